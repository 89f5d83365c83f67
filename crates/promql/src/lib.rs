//! PromQL for vitals: expressions are parsed with the `promql-parser` crate and evaluated by our own
//! engine over any [`vitals_model::Queryable`] ([`Engine`]). It also turns series selectors
//! (`match[]` of the HTTP API) into label matchers. It knows nothing of HTTP or storage internals.

mod aggregate;
mod binary;
mod engine;
mod error;
mod eval;
mod functions;
mod value;

pub use engine::{format_query, parse, Engine, EngineOptions, QueryOptions};
pub use error::QueryError;
pub use functions::format_go_float;
pub use value::{FPoint, InstantSample, QueryResult, QueryStats, RangeSeries, Value};

use promql_parser::parser::Expr;
use vitals_model::Matcher;

/// Why an expression was refused.
#[derive(Debug, thiserror::Error)]
pub enum PromqlError {
    /// The text does not parse, or is not what the caller needs; the message is Prometheus'.
    #[error("{0}")]
    Parse(String),
}

/// Parses a series selector such as `up{job="api"}` or `{__name__=~"http_.*"}` into matchers,
/// refusing (as Prometheus does) selectors whose matchers all accept the empty string.
pub fn parse_selector(text: &str) -> Result<Vec<Matcher>, PromqlError> {
    let expr = promql_parser::parser::parse(text).map_err(|e| PromqlError::Parse(format!("1:1: parse error: {e}")))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(PromqlError::Parse(format!("invalid parameter \"match[]\": {text:?} is not a series selector")));
    };
    if !vs.matchers.or_matchers.is_empty() {
        return Err(PromqlError::Parse(format!("{text:?}: \"or\" in selectors is not supported yet")));
    }
    let out = eval::selector_matchers(&vs).map_err(|e| PromqlError::Parse(e.to_string()))?;
    if out.iter().all(|m| m.matches("")) {
        return Err(PromqlError::Parse("vector selector must contain at least one non-empty matcher".to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_become_matchers() {
        let m = parse_selector(r#"http_requests_total{job="api",code=~"5..",path!="/x",env!~"dev|test"}"#).unwrap();
        assert_eq!(m.len(), 5);
        assert!(m[0].matches("http_requests_total") && !m[0].matches("up"));
        assert!(m[2].matches("503") && !m[2].matches("200") && !m[2].matches("1503"), "anchored regex");
        assert!(m[4].matches("prod") && !m[4].matches("dev"));
        let utf8 = parse_selector(r#"{"my.metric", "service.name"="cart"}"#).unwrap();
        assert!(utf8[0].matches("my.metric"));
    }

    #[test]
    fn bad_selectors_are_refused() {
        for bad in ["rate(up[5m])", "{job=~\".*\"}", "up{", "1 + 1"] {
            assert!(parse_selector(bad).is_err(), "{bad}");
        }
    }
}
