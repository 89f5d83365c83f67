//! A zero-copy parser for the OpenMetrics 1.0 text format, yielding the same [`Entry`] values as the
//! Prometheus text parser.
//!
//! Differences from text 0.0.4 that it enforces: `# EOF` must end the body, blank lines and free-form
//! comments are errors, fields are separated by exactly one space, timestamps are float seconds
//! (yielded as milliseconds), `# UNIT` must be a suffix of the family name, and exemplars
//! (` # {labels} value [timestamp]`) are validated and skipped. `_created` samples are yielded as is.

use crate::exposition::{parse_value, series_end, Entry, ParseError};

/// Metric types OpenMetrics 1.0 knows.
pub const METRIC_TYPES: [&str; 8] =
    ["counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "unknown"];

/// Longest combined length, in characters, of an exemplar's label names and values.
pub const MAX_EXEMPLAR_LABELS_CHARS: usize = 128;

/// Iterates the entries of an OpenMetrics body; after an error it goes on with the next line.
pub struct OpenMetricsParser<'a> {
    rest: &'a str,
    line: usize,
    done: bool,
}

impl<'a> OpenMetricsParser<'a> {
    /// A parser over a whole OpenMetrics body.
    pub fn new(body: &'a str) -> Self {
        OpenMetricsParser { rest: body, line: 0, done: false }
    }

    fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError { line: self.line, msg: msg.into() }
    }

    fn parse_line(&self, line: &'a str) -> Result<Entry<'a>, ParseError> {
        if line.is_empty() {
            return Err(self.err("empty line"));
        }
        if line.starts_with('#') {
            return self.parse_metadata(line);
        }
        self.parse_sample(line)
    }

    fn parse_metadata(&self, line: &'a str) -> Result<Entry<'a>, ParseError> {
        let body = line.strip_prefix("# ").ok_or_else(|| self.err("expected a space after '#'"))?;
        let (keyword, after) = split_space(body);
        let (name, arg) = split_space(after.unwrap_or(""));
        if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
            return Err(self.err(format!("invalid comment {keyword:?}: expected HELP, TYPE, UNIT or EOF")));
        }
        if !is_metric_name(name) {
            return Err(self.err(format!("invalid metric name {name:?} in {keyword}")));
        }
        match keyword {
            "HELP" => Ok(Entry::Help { name, text: arg.unwrap_or("") }),
            "TYPE" => {
                let kind = arg.unwrap_or("");
                if !METRIC_TYPES.contains(&kind) {
                    return Err(self.err(format!("invalid metric type {kind:?}")));
                }
                Ok(Entry::Type { name, kind })
            }
            _ => {
                let unit = arg.unwrap_or("");
                if !unit.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') {
                    return Err(self.err(format!("invalid unit {unit:?}")));
                }
                if !unit.is_empty() && !name.strip_suffix(unit).is_some_and(|p| p.ends_with('_')) {
                    return Err(self.err(format!("unit {unit:?} is not a suffix of metric {name:?}")));
                }
                Ok(Entry::Unit { name, unit })
            }
        }
    }

    fn parse_sample(&self, line: &'a str) -> Result<Entry<'a>, ParseError> {
        let end = series_end(line).ok_or_else(|| self.err("unterminated label set"))?;
        let series = &line[..end];
        let name_len = series.find('{').unwrap_or(series.len());
        if name_len > 0 && !is_metric_name(&series[..name_len]) || series.is_empty() {
            return Err(self.err("expected a metric name"));
        }
        let rest = line[end..].strip_prefix(' ').ok_or_else(|| self.err("expected a space after the series"))?;
        let (value, mut rest) = split_space(rest);
        let value = parse_value(value).ok_or_else(|| self.err(format!("invalid value {value:?}")))?;
        let mut timestamp = None;
        if let Some(r) = rest.filter(|r| !r.starts_with('#')) {
            let (ts, after) = split_space(r);
            timestamp = Some(parse_timestamp(ts).ok_or_else(|| self.err(format!("invalid timestamp {ts:?}")))?);
            rest = after;
        }
        if let Some(r) = rest {
            let exemplar = r.strip_prefix("# ").ok_or_else(|| self.err("unexpected text after the sample"))?;
            check_exemplar(exemplar).map_err(|m| self.err(format!("invalid exemplar: {m}")))?;
        }
        Ok(Entry::Sample { series, value, timestamp })
    }
}

impl<'a> Iterator for OpenMetricsParser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.rest.is_empty() {
            self.done = true;
            self.line += 1;
            return Some(Err(self.err("missing # EOF")));
        }
        let (line, rest) = match self.rest.find('\n') {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, ""),
        };
        self.rest = rest;
        self.line += 1;
        if line == "# EOF" {
            self.done = true;
            if !rest.is_empty() {
                self.line += 1;
                return Some(Err(self.err("unexpected content after # EOF")));
            }
            return None;
        }
        Some(self.parse_line(line))
    }
}

/// Splits at the first space: the text before it and, if there was one, the text after it.
fn split_space(s: &str) -> (&str, Option<&str>) {
    match s.find(' ') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// Float seconds to integer milliseconds, rounded; `None` for non-finite or out-of-range values.
fn parse_timestamp(s: &str) -> Option<i64> {
    let secs = parse_value(s).filter(|v| v.is_finite())?;
    let ms = (secs * 1000.0).round();
    (ms >= i64::MIN as f64 && ms < i64::MAX as f64).then_some(ms as i64)
}

fn is_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_' || b[0] == b':')
        && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// Validates `{labels} value [timestamp]`.
fn check_exemplar(s: &str) -> Result<(), String> {
    if !s.starts_with('{') {
        return Err("expected '{'".into());
    }
    let end = series_end(s).ok_or("unterminated label set")?;
    let chars = check_label_block(&s[1..end - 1])?;
    if chars > MAX_EXEMPLAR_LABELS_CHARS {
        return Err(format!("labels are {chars} characters long, more than {MAX_EXEMPLAR_LABELS_CHARS}"));
    }
    let rest = s[end..].strip_prefix(' ').ok_or("expected a value")?;
    let (value, rest) = split_space(rest);
    parse_value(value).ok_or_else(|| format!("invalid value {value:?}"))?;
    if let Some(ts) = rest {
        parse_timestamp(ts).ok_or_else(|| format!("invalid timestamp {ts:?}"))?;
    }
    Ok(())
}

/// Validates `name="value",...` (an optional trailing comma allowed); returns the characters of
/// names and values.
fn check_label_block(mut s: &str) -> Result<usize, String> {
    let mut chars = 0;
    while !s.is_empty() {
        let eq = s.find('=').ok_or("expected '='")?;
        let name = &s[..eq];
        if !crate::relabel::is_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        let v = s[eq + 1..].strip_prefix('"').ok_or("expected a quoted value")?;
        let mut close = None;
        let mut escaped = false;
        for (i, c) in v.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    close = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let close = close.ok_or("unterminated label value")?;
        chars += name.len() + v[..close].chars().count();
        s = &v[close + 1..];
        match s.strip_prefix(',') {
            Some(r) => s = r,
            None if s.is_empty() => {}
            None => return Err("expected ',' between labels".into()),
        }
    }
    Ok(chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Vec<Entry<'_>>, ParseError> {
        OpenMetricsParser::new(body).collect()
    }

    #[test]
    fn minimal_bodies() {
        assert_eq!(parse("# EOF\n").unwrap(), vec![]);
        assert_eq!(parse("# EOF").unwrap(), vec![]);
        assert_eq!(parse("").unwrap_err().line, 1);
        assert_eq!(parse("a 1\n").unwrap_err(), ParseError { line: 2, msg: "missing # EOF".into() });
        assert_eq!(parse("# EOF\na 1\n").unwrap_err().line, 2);
        assert_eq!(parse("# EOF\n\n").unwrap_err().line, 2);
    }

    #[test]
    fn timestamps_are_seconds() {
        let e = parse("a 1 1520879607.789\n# EOF\n").unwrap();
        assert_eq!(e, vec![Entry::Sample { series: "a", value: 1.0, timestamp: Some(1520879607789) }]);
        let e = parse("a{b=\"c\"} -Inf 12 # {trace_id=\"x\"} 2 13.5\n# EOF\n").unwrap();
        assert_eq!(e[0], Entry::Sample { series: "a{b=\"c\"}", value: f64::NEG_INFINITY, timestamp: Some(12000) });
        assert!(parse("a 1 NaN\n# EOF\n").is_err());
    }

    #[test]
    fn exemplars_are_checked() {
        assert!(parse("a_bucket{le=\"1\"} 1 # {} 1\n# EOF\n").is_ok());
        assert!(parse("a_bucket{le=\"1\"} 1 # {a=\"b\",} 1\n# EOF\n").is_ok());
        for bad in ["# {a=\"b\"}", "# {a=\"b\"} x", "# {a=b} 1", "# {a=\"b\" 1", "#{a=\"b\"} 1", "# {a=\"b\"} 1 2 3"] {
            let body = format!("a 1 {bad}\n# EOF\n");
            assert!(parse(&body).is_err(), "{body}");
        }
        let long = "x".repeat(129);
        assert!(parse(&format!("a 1 # {{a=\"{long}\"}} 1\n# EOF\n")).is_err());
    }

    #[test]
    fn metadata() {
        let e =
            parse("# TYPE a_seconds histogram\n# UNIT a_seconds seconds\n# HELP a_seconds Latency.\n# EOF\n").unwrap();
        assert_eq!(e[1], Entry::Unit { name: "a_seconds", unit: "seconds" });
        assert_eq!(e[2], Entry::Help { name: "a_seconds", text: "Latency." });
        assert!(parse("# UNIT a_bytes seconds\n# EOF\n").is_err());
        assert!(parse("# UNIT aseconds seconds\n# EOF\n").is_err());
        assert!(parse("# TYPE a untyped\n# EOF\n").is_err());
        assert!(parse("# a comment\n# EOF\n").is_err());
        assert!(parse("a  1\n# EOF\n").is_err());
    }
}
