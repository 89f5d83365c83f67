//! Label matchers with Prometheus semantics: `=`, `!=`, `=~`, `!~`; regexes are RE2 syntax, fully
//! anchored, and `.` matches a newline; a missing label matches as the empty string.

use std::fmt;

use regex::Regex;
use rustc_hash::FxHashSet;

/// The four matcher operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        })
    }
}

/// A matcher could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    /// The regular expression does not compile.
    #[error("invalid regular expression {pattern:?} for label {name:?}: {source}")]
    BadRegex {
        /// Label name the matcher is for.
        name: String,
        /// The pattern as given.
        pattern: String,
        /// What the regex parser said.
        source: Box<regex::Error>,
    },
}

#[derive(Clone)]
enum Pattern {
    /// Exact string.
    Literal(String),
    /// A regex that is an alternation of plain literals: `a|b|c`.
    Set(FxHashSet<String>),
    /// `.*`: everything.
    Any,
    /// `.+`: everything but the empty string.
    NonEmpty,
    /// A literal prefix followed by `.*`.
    Prefix(String),
    /// General regex, anchored.
    Regex(Regex),
}

/// Selects series whose label `name` satisfies `op value`.
#[derive(Clone)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The operator.
    pub op: MatchOp,
    /// The value or pattern as written.
    pub value: String,
    pattern: Pattern,
}

impl Matcher {
    /// Builds a matcher, compiling the regex for `=~` and `!~`.
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Self, MatcherError> {
        let name = name.into();
        let value = value.into();
        let pattern = match op {
            MatchOp::Equal | MatchOp::NotEqual => Pattern::Literal(value.clone()),
            MatchOp::Regex | MatchOp::NotRegex => compile(&name, &value)?,
        };
        Ok(Matcher { name, op, value, pattern })
    }

    /// `name = value`.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        let value = value.into();
        Matcher { name: name.into(), op: MatchOp::Equal, pattern: Pattern::Literal(value.clone()), value }
    }

    /// True when the label value `v` (empty when the label is absent) satisfies the matcher.
    pub fn matches(&self, v: &str) -> bool {
        let hit = match &self.pattern {
            Pattern::Literal(s) => s == v,
            Pattern::Set(set) => set.contains(v),
            Pattern::Any => true,
            Pattern::NonEmpty => !v.is_empty(),
            Pattern::Prefix(p) => v.starts_with(p.as_str()),
            Pattern::Regex(re) => re.is_match(v),
        };
        match self.op {
            MatchOp::Equal | MatchOp::Regex => hit,
            MatchOp::NotEqual | MatchOp::NotRegex => !hit,
        }
    }

    /// True when the matcher accepts series that lack the label entirely.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For `=` or a regex that is a set of literals: the exact values that match, so an index can
    /// look them up directly instead of scanning every value.
    pub fn set_matches(&self) -> Option<Vec<&str>> {
        match (&self.op, &self.pattern) {
            (MatchOp::Equal, Pattern::Literal(s)) => Some(vec![s.as_str()]),
            (MatchOp::Regex, Pattern::Literal(s)) => Some(vec![s.as_str()]),
            (MatchOp::Regex, Pattern::Set(set)) => {
                let mut v: Vec<&str> = set.iter().map(|s| s.as_str()).collect();
                v.sort_unstable();
                Some(v)
            }
            _ => None,
        }
    }

    /// A literal prefix every matching value starts with (empty when unknown); lets an index skip
    /// values in a sorted list.
    pub fn prefix(&self) -> &str {
        match (&self.op, &self.pattern) {
            (MatchOp::Regex, Pattern::Prefix(p)) => p,
            _ => "",
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op, self.value)
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn is_plain_literal(s: &str) -> bool {
    !s.chars().any(|c| "\\.+*?()|[]{}^$".contains(c))
}

fn compile(name: &str, value: &str) -> Result<Pattern, MatcherError> {
    // Compile first so that an invalid pattern is always an error, even when a fast path would apply.
    let re = Regex::new(&format!("^(?s:{value})$")).map_err(|e| MatcherError::BadRegex {
        name: name.to_string(),
        pattern: value.to_string(),
        source: Box::new(e),
    })?;
    if value == ".*" {
        return Ok(Pattern::Any);
    }
    if value == ".+" {
        return Ok(Pattern::NonEmpty);
    }
    if is_plain_literal(value) {
        return Ok(Pattern::Literal(value.to_string()));
    }
    if let Some(p) = value.strip_suffix(".*") {
        if is_plain_literal(p) {
            return Ok(Pattern::Prefix(p.to_string()));
        }
    }
    if value.contains('|') && value.split('|').all(is_plain_literal) {
        return Ok(Pattern::Set(value.split('|').map(str::to_string).collect()));
    }
    Ok(Pattern::Regex(re))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(op: MatchOp, v: &str) -> Matcher {
        Matcher::new(op, "l", v).unwrap()
    }

    #[test]
    fn table_of_prometheus_semantics() {
        use MatchOp::*;
        // (op, pattern, value, expected)
        let cases: &[(MatchOp, &str, &str, bool)] = &[
            (Equal, "a", "a", true),
            (Equal, "a", "ab", false),
            (Equal, "", "", true),
            (NotEqual, "a", "b", true),
            (NotEqual, "", "", false),
            (Regex, "a", "a", true),
            (Regex, "a", "ba", false), // anchored
            (Regex, "a", "ab", false),
            (Regex, "a.*", "abc", true),
            (Regex, "a.*", "ba", false),
            (Regex, ".*", "", true),
            (Regex, ".+", "", false),
            (Regex, ".+", "x", true),
            (Regex, "a|b", "a", true),
            (Regex, "a|b", "ab", false),
            (Regex, "a|b", "", false),
            (Regex, "a|", "", true),
            (Regex, "foo.bar", "foo\nbar", true), // dot matches newline
            (Regex, "(a|b)+c", "ababc", true),
            (Regex, "[0-9]{2}", "123", false),
            (Regex, "[0-9]{2}", "12", true),
            (Regex, "(?i)abc", "ABC", true),
            (NotRegex, "a.*", "abc", false),
            (NotRegex, "a.*", "", true),
            (NotRegex, ".*", "", false),
            (Regex, "api|web.*", "webserver", true),
            (Regex, "api|web.*", "apix", false),
        ];
        for (op, pat, val, want) in cases {
            assert_eq!(m(*op, pat).matches(val), *want, "{op} {pat:?} on {val:?}");
        }
    }

    #[test]
    fn invalid_regex_is_an_error_naming_the_label() {
        let err = Matcher::new(MatchOp::Regex, "job", "a(").unwrap_err().to_string();
        assert!(err.contains("job") && err.contains("a("), "{err}");
    }

    #[test]
    fn set_matches_for_literal_alternation() {
        let mm = m(MatchOp::Regex, "b|a");
        assert_eq!(mm.set_matches(), Some(vec!["a", "b"]));
        assert_eq!(m(MatchOp::Regex, "a.*").prefix(), "a");
        assert!(m(MatchOp::Regex, "a+").set_matches().is_none());
    }
}
