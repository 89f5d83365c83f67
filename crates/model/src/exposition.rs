//! A zero-copy parser for the Prometheus text exposition format 0.0.4 (see [`crate::openmetrics`] for
//! OpenMetrics 1.0 and [`Parser`] for either, chosen by [`content_type_format`]).
//!
//! Each sample line yields the raw series text (`name{labels}`), so callers can cache parsed label
//! sets keyed by that text and skip label parsing on every scrape but the first.

use crate::labels::{Labels, LabelsBuilder, METRIC_NAME};

/// A line that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

/// One meaningful line of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// A sample line.
    Sample {
        /// The series text exactly as written: metric name and the `{...}` block, if any.
        series: &'a str,
        /// The value.
        value: f64,
        /// The optional timestamp in milliseconds.
        timestamp: Option<i64>,
    },
    /// `# HELP name text`.
    Help {
        /// Metric family name.
        name: &'a str,
        /// Help text (escapes left as written).
        text: &'a str,
    },
    /// `# TYPE name type`.
    Type {
        /// Metric family name.
        name: &'a str,
        /// counter, gauge, histogram, summary or untyped; OpenMetrics adds gaugehistogram, info,
        /// stateset and unknown.
        kind: &'a str,
    },
    /// `# UNIT name unit` (OpenMetrics only).
    Unit {
        /// Metric family name.
        name: &'a str,
        /// The unit, e.g. `seconds` (may be empty).
        unit: &'a str,
    },
}

/// An exposition format a target can answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    #[default]
    Text,
    /// OpenMetrics 1.0 text (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
}

/// The format of a scrape body from its `Content-Type` header; anything unknown is text 0.0.4.
pub fn content_type_format(content_type: &str) -> Format {
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/openmetrics-text") {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// A parser for either format, chosen at run time.
pub enum Parser<'a> {
    /// Text format 0.0.4.
    Text(TextParser<'a>),
    /// OpenMetrics 1.0.
    OpenMetrics(crate::openmetrics::OpenMetricsParser<'a>),
}

impl<'a> Parser<'a> {
    /// A parser for `body` in `format`.
    pub fn new(body: &'a str, format: Format) -> Self {
        match format {
            Format::Text => Parser::Text(TextParser::new(body)),
            Format::OpenMetrics => Parser::OpenMetrics(crate::openmetrics::OpenMetricsParser::new(body)),
        }
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Parser::Text(p) => p.next(),
            Parser::OpenMetrics(p) => p.next(),
        }
    }
}

/// Iterates the entries of a text exposition; comments and blank lines are skipped.
pub struct TextParser<'a> {
    rest: &'a str,
    line: usize,
}

impl<'a> TextParser<'a> {
    /// A parser over a whole exposition body.
    pub fn new(body: &'a str) -> Self {
        TextParser { rest: body, line: 0 }
    }

    fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError { line: self.line, msg: msg.into() }
    }

    fn parse_line(&self, line: &'a str) -> Result<Option<Entry<'a>>, ParseError> {
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() {
            return Ok(None);
        }
        if let Some(c) = line.strip_prefix('#') {
            let c = c.trim_start();
            let mut parts = c.splitn(3, [' ', '\t']);
            return Ok(match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), text) => Some(Entry::Help { name, text: text.unwrap_or("") }),
                (Some("TYPE"), Some(name), Some(kind)) => {
                    let kind = kind.trim();
                    if !matches!(kind, "counter" | "gauge" | "histogram" | "summary" | "untyped") {
                        return Err(self.err(format!("invalid metric type {kind:?}")));
                    }
                    Some(Entry::Type { name, kind })
                }
                _ => None,
            });
        }
        let end = series_end(line).ok_or_else(|| self.err("unterminated label set"))?;
        let series = &line[..end];
        if series.is_empty()
            || !series.as_bytes()[0].is_ascii_alphabetic() && !matches!(series.as_bytes()[0], b'_' | b':' | b'{')
        {
            return Err(self.err("expected a metric name"));
        }
        let mut fields = line[end..].split_ascii_whitespace();
        let value = fields.next().ok_or_else(|| self.err("missing value"))?;
        let value = parse_value(value).ok_or_else(|| self.err(format!("invalid value {value:?}")))?;
        let timestamp = match fields.next() {
            Some(ts) => Some(ts.parse::<i64>().map_err(|_| self.err(format!("invalid timestamp {ts:?}")))?),
            None => None,
        };
        if fields.next().is_some() {
            return Err(self.err("unexpected text after the timestamp"));
        }
        Ok(Some(Entry::Sample { series, value, timestamp }))
    }
}

impl<'a> Iterator for TextParser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            let (line, rest) = match self.rest.find('\n') {
                Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                None => (self.rest, ""),
            };
            self.rest = rest;
            self.line += 1;
            match self.parse_line(line.strip_suffix('\r').unwrap_or(line)) {
                Ok(None) => continue,
                Ok(Some(e)) => return Some(Ok(e)),
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }
}

/// Parses a sample value as Prometheus does (`NaN`, `+Inf`, `-Inf` included).
pub fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => {
            s.parse::<f64>().ok().filter(|_| !s.eq_ignore_ascii_case("nan") && !s.to_ascii_lowercase().contains("inf"))
        }
    }
}

/// Byte index just past the series text: past the closing `}`, or at the first blank.
pub(crate) fn series_end(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i] != b'{' && b[i] != b' ' && b[i] != b'\t' {
        i += 1;
    }
    if i == b.len() || b[i] != b'{' {
        return Some(i);
    }
    let mut in_quotes = false;
    while i < b.len() {
        match b[i] {
            b'\\' if in_quotes => i += 1,
            b'"' => in_quotes = !in_quotes,
            b'}' if !in_quotes => return Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses series text (`name{a="b",...}`, or `{"name", a="b"}` with a quoted UTF-8 name) into labels.
pub fn parse_series(series: &str) -> Result<Labels, String> {
    let mut b = LabelsBuilder::new();
    let (name, rest) = match series.find('{') {
        Some(i) => (&series[..i], &series[i + 1..]),
        None => (series, ""),
    };
    if !name.is_empty() {
        if !valid_name(name, true) {
            return Err(format!("invalid metric name {name:?}"));
        }
        b.set(METRIC_NAME, name);
    }
    let mut rest = rest.strip_suffix('}').unwrap_or(rest).trim_start();
    let mut seen: Vec<String> = Vec::new();
    while !rest.is_empty() {
        let (label, after) = if let Some(q) = rest.strip_prefix('"') {
            let (s, after) = unquote(q)?;
            (s, after.trim_start())
        } else {
            let end = rest.find(|c: char| c == '=' || c == ',' || c.is_whitespace()).unwrap_or(rest.len());
            (rest[..end].to_string(), rest[end..].trim_start())
        };
        if let Some(after_eq) = after.strip_prefix('=') {
            let v = after_eq
                .trim_start()
                .strip_prefix('"')
                .ok_or_else(|| format!("label {label:?}: expected a quoted value"))?;
            let (value, after) = unquote(v)?;
            if !valid_name(&label, false) && !label.is_empty() && label.contains(|c: char| c.is_control()) {
                return Err(format!("invalid label name {label:?}"));
            }
            if seen.contains(&label) {
                return Err(format!("duplicate label name {label:?}"));
            }
            b.set(&label, &value);
            seen.push(label);
            rest = after.trim_start();
        } else if name.is_empty() && seen.is_empty() && b.clone().build().is_empty() {
            // A quoted metric name inside the braces.
            b.set(METRIC_NAME, &label);
            rest = after;
        } else {
            return Err(format!("label {label:?}: expected '='"));
        }
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    let labels = b.build();
    if labels.metric_name().is_none() {
        return Err("missing metric name".into());
    }
    Ok(labels)
}

fn unquote(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated quoted string".into())
}

fn valid_name(s: &str, metric: bool) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else { return false };
    (first.is_ascii_alphabetic() || first == '_' || (metric && first == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (metric && c == ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_typical_page() {
        let body = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n\
            http_requests_total{method=\"GET\",code=\"200\"} 1027 1395066363000\n\
            http_requests_total{method=\"POST\",code=\"400\"}    3\n\
            msg{text=\"a \\\"quoted\\\" }{ \\\\ value\\n\"} +Inf\n\
            go_goroutines 12\nweird NaN\n\n";
        let entries: Vec<Entry> = TextParser::new(body).collect::<Result<_, _>>().unwrap();
        assert_eq!(entries.len(), 7);
        assert_eq!(entries[1], Entry::Type { name: "http_requests_total", kind: "counter" });
        let Entry::Sample { series, value, timestamp } = &entries[2] else { panic!() };
        assert_eq!(
            (*series, *value, *timestamp),
            ("http_requests_total{method=\"GET\",code=\"200\"}", 1027.0, Some(1395066363000))
        );
        let Entry::Sample { series, value, .. } = &entries[4] else { panic!() };
        assert!(value.is_infinite());
        let l = parse_series(series).unwrap();
        assert_eq!(l.get("text"), Some("a \"quoted\" }{ \\ value\n"));
        let Entry::Sample { value, .. } = &entries[6] else { panic!() };
        assert!(value.is_nan());
        let l = parse_series("http_requests_total{method=\"GET\",code=\"200\"}").unwrap();
        assert_eq!(l.to_string(), "http_requests_total{code=\"200\", method=\"GET\"}");
    }

    #[test]
    fn errors_name_the_line() {
        let err = TextParser::new("ok 1\nbad{a=\"1\" 2\n").nth(1).unwrap().unwrap_err();
        assert_eq!(err.line, 2);
        let err = TextParser::new("x abc\n").next().unwrap().unwrap_err();
        assert!(err.msg.contains("invalid value"), "{err}");
        assert!(TextParser::new("x 1 2 3\n").next().unwrap().is_err());
        assert!(parse_series("x{a=\"1\",a=\"2\"}").is_err());
        assert!(parse_series("x{a=1}").is_err());
        assert!(parse_value("inf").is_none());
    }

    #[test]
    fn quoted_utf8_names() {
        let l = parse_series("{\"my.metric\", \"service.name\"=\"api\"}").unwrap();
        assert_eq!(l.metric_name(), Some("my.metric"));
        assert_eq!(l.get("service.name"), Some("api"));
    }
}
