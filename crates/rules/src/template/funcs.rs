//! The functions a template can call: Go's builtins and Prometheus' template functions.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::rc::Rc;

use regex::Regex;

use super::exec::{At, Exec};
use super::gofmt::{self, format_float, quote};
use super::gotime::GoTime;
use super::value::{Sample, Value};

/// Type of a function parameter, for Go's argument checks.
#[derive(Debug, Clone, Copy)]
pub(super) enum Param {
    /// `interface{}` or `reflect.Value`: anything.
    Any,
    /// `string`.
    Str,
    /// `template.queryResult`.
    Samples,
    /// `*template.sample`.
    Sample,
}

impl Param {
    pub(super) fn go_type(self) -> &'static str {
        match self {
            Param::Any => "interface {}",
            Param::Str => "string",
            Param::Samples => "template.queryResult",
            Param::Sample => "*template.sample",
        }
    }
}

/// Parameters of a function: fixed ones, then optionally any number of a variadic one.
pub(super) struct Sig {
    pub(super) fixed: &'static [Param],
    pub(super) variadic: Option<Param>,
}

impl Sig {
    /// Type of the `i`th argument.
    pub(super) fn param(&self, i: usize) -> Param {
        match self.fixed.get(i) {
            Some(p) => *p,
            None => self.variadic.unwrap_or(Param::Any),
        }
    }
}

/// The signature of a known function; `None` if the name is not a function.
pub(super) fn signature(name: &str) -> Option<Sig> {
    use Param::{Any, Sample as S, Samples as L, Str};
    let (fixed, variadic): (&'static [Param], Option<Param>) = match name {
        // Go builtins.
        "and" | "or" | "index" | "slice" | "eq" | "call" => (&[Any], Some(Any)),
        "not" | "len" => (&[Any], None),
        "print" | "println" | "html" | "js" | "urlquery" | "args" => (&[], Some(Any)),
        "printf" => (&[Str], Some(Any)),
        "ne" | "lt" | "le" | "gt" | "ge" => (&[Any, Any], None),
        // Prometheus.
        "query" | "safeHtml" | "title" | "toUpper" | "toLower" | "graphLink" | "tableLink" | "stripPort"
        | "stripDomain" | "parseDuration" | "urlQueryEscape" => (&[Str], None),
        "first" => (&[L], None),
        "label" => (&[Str, S], None),
        "value" | "strvalue" => (&[S], None),
        "sortByLabel" => (&[Str, L], None),
        "reReplaceAll" => (&[Str, Str, Str], None),
        "match" => (&[Str, Str], None),
        "humanize" | "humanize1024" | "humanizeDuration" | "humanizePercentage" | "humanizeTimestamp" | "toTime" => {
            (&[Any], None)
        }
        "pathPrefix" | "externalURL" => (&[], None),
        "tmpl" => (&[Str, Any], None),
        _ => return None,
    };
    Some(Sig { fixed, variadic })
}

/// Whether `name` is a method of the time values `toTime` returns.
pub(super) fn is_time_method(name: &str) -> bool {
    matches!(
        name,
        "Format"
            | "String"
            | "Unix"
            | "UnixMilli"
            | "UTC"
            | "Local"
            | "Year"
            | "Month"
            | "Day"
            | "Hour"
            | "Minute"
            | "Second"
            | "Nanosecond"
            | "YearDay"
            | "Weekday"
    )
}

const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

fn string_arg(v: &Value) -> &str {
    match v {
        Value::Str(s) => s,
        _ => "",
    }
}

fn sample_arg(v: &Value) -> Result<&Rc<Sample>, String> {
    match v {
        Value::Sample(s) => Ok(s),
        _ => Err(NIL_DEREF.to_string()),
    }
}

fn samples_arg(v: &Value) -> &[Rc<Sample>] {
    match v {
        Value::Samples(s) => s,
        _ => &[],
    }
}

impl Exec<'_> {
    /// Calls function `name` on checked arguments; an `Err` becomes "error calling NAME: ...".
    pub(super) fn call(&mut self, at: At<'_>, name: &str, a: Vec<Value>) -> Result<Value, String> {
        let s = |i: usize| string_arg(&a[i]);
        let str_value = |x: String| Ok(Value::Str(x));
        match name {
            "not" => Ok(Value::Bool(!a[0].truth())),
            "len" => len(&a[0]).map(Value::Int),
            "index" => index(&a[0], &a[1..]),
            "slice" => slice(&a[0], &a[1..]),
            "print" => str_value(gofmt::sprint(&a)),
            "println" => str_value(gofmt::sprintln(&a)),
            "printf" => str_value(gofmt::sprintf(s(0), &a[1..])),
            "html" => str_value(html_escape(&eval_args(&a))),
            "js" => str_value(js_escape(&eval_args(&a))),
            "urlquery" => str_value(query_escape(&eval_args(&a))),
            "eq" => eq(&a[0], &a[1..]).map(Value::Bool),
            "ne" => eq(&a[0], &a[1..]).map(|t| Value::Bool(!t)),
            "lt" => lt(&a[0], &a[1]).map(Value::Bool),
            "le" => le(&a[0], &a[1]).map(Value::Bool),
            "gt" => le(&a[0], &a[1]).map(|t| Value::Bool(!t)),
            "ge" => lt(&a[0], &a[1]).map(|t| Value::Bool(!t)),
            "call" => match &a[0] {
                Value::Nil => Err("call of nil".to_string()),
                v => Err(format!("non-function of type {}", v.go_type())),
            },
            "query" => {
                let samples = (self.query)(s(0))?;
                let list = samples
                    .into_iter()
                    .map(|q| Rc::new(Sample { labels: Rc::new(q.labels), value: q.value }))
                    .collect::<Vec<_>>();
                Ok(Value::Samples(Rc::new(list)))
            }
            "first" => match samples_arg(&a[0]).first() {
                Some(sample) => Ok(Value::Sample(sample.clone())),
                None => Err("first() called on vector with no elements".to_string()),
            },
            "label" => str_value(sample_arg(&a[1])?.labels.get(s(0)).cloned().unwrap_or_default()),
            "value" => Ok(Value::Float(sample_arg(&a[0])?.value)),
            "strvalue" => str_value(sample_arg(&a[0])?.labels.get("__value__").cloned().unwrap_or_default()),
            "sortByLabel" => {
                let mut list = samples_arg(&a[1]).to_vec();
                let key = s(0);
                list.sort_by(|x, y| {
                    let (x, y) = (x.labels.get(key), y.labels.get(key));
                    x.map_or("", String::as_str).cmp(y.map_or("", String::as_str))
                });
                Ok(Value::Samples(Rc::new(list)))
            }
            "args" => {
                let map: BTreeMap<String, Value> =
                    a.iter().enumerate().map(|(i, v)| (format!("arg{i}"), v.clone())).collect();
                Ok(Value::AnyMap(Rc::new(map)))
            }
            "reReplaceAll" => {
                let re = self.regex(s(0)).map_err(|e| format!("regexp: Compile({}): {e}", backquote(s(0))))?;
                str_value(re.replace_all(s(2), s(1)).into_owned())
            }
            "match" => {
                let re = self.regex(s(0))?;
                Ok(Value::Bool(re.is_match(s(1))))
            }
            "safeHtml" => str_value(s(0).to_string()),
            "title" => str_value(title(s(0))),
            "toUpper" => str_value(map_chars(s(0), |c| c.to_uppercase())),
            "toLower" => str_value(map_chars(s(0), |c| c.to_lowercase())),
            "graphLink" => str_value(format!("/graph?g0.expr={}&g0.tab=0", query_escape(s(0)))),
            "tableLink" => str_value(format!("/graph?g0.expr={}&g0.tab=1", query_escape(s(0)))),
            "stripPort" => str_value(match split_host_port(s(0)) {
                Some((host, _)) => host.to_string(),
                None => s(0).to_string(),
            }),
            "stripDomain" => str_value(strip_domain(s(0))),
            "humanize" => str_value(humanize(to_float(&a[0])?)),
            "humanize1024" => str_value(humanize1024(to_float(&a[0])?)),
            "humanizeDuration" => str_value(humanize_duration(to_float(&a[0])?)),
            "humanizePercentage" => str_value(format!("{}%", g4(to_float(&a[0])? * 100.0))),
            "humanizeTimestamp" => {
                let v = to_float(&a[0])?;
                if v.is_nan() || v.is_infinite() {
                    return str_value(g4(v));
                }
                str_value(float_to_time(v)?.to_string())
            }
            "toTime" => float_to_time(to_float(&a[0])?).map(Value::Time),
            "pathPrefix" => str_value(url_path(&self.data.external_url).to_string()),
            "externalURL" => str_value(self.data.external_url.clone()),
            "parseDuration" => parse_duration(s(0)).map(Value::Float),
            "urlQueryEscape" => str_value(query_escape(s(0))),
            "tmpl" => {
                let name = s(0).to_string();
                self.call_tmpl(at, &name, a[1].clone()).map(Value::Str)
            }
            _ => Err(format!("function {name:?} is not implemented")),
        }
    }

    /// A Go (RE2) regular expression, compiled once per execution.
    fn regex(&mut self, pattern: &str) -> Result<Regex, String> {
        if let Some(re) = self.regexes.get(pattern) {
            return Ok(re.clone());
        }
        let re = Regex::new(&translate_go_regex(pattern))
            .map_err(|e| format!("error parsing regexp: {}: {}", go_regex_error(&e.to_string()), backquote(pattern)))?;
        self.regexes.insert(pattern.to_string(), re.clone());
        Ok(re)
    }
}

/// Go's wording (`regexp/syntax` error codes) for a `regex` crate error.
fn go_regex_error(rust: &str) -> String {
    let detail = rust.lines().last().unwrap_or_default().trim_start_matches("error: ");
    let go = [
        ("unclosed group", "missing closing )"),
        ("unopened group", "unexpected )"),
        ("unclosed character class", "missing closing ]"),
        ("repetition operator missing expression", "missing argument to repetition operator"),
        ("incomplete escape sequence", "trailing backslash at end of expression"),
        ("escape sequence", "invalid escape sequence"),
        ("backreferences are not supported", "invalid escape sequence"),
        ("look-around", "invalid or unsupported Perl syntax"),
        ("character class range", "invalid character class range"),
        ("repetition count", "invalid repeat count"),
        ("repetition quantifier", "invalid repeat count"),
        ("capture group name", "invalid named capture"),
        ("nest limit", "expression nests too deeply"),
        ("size limit", "expression too large"),
        ("flag", "invalid or unsupported Perl syntax"),
    ];
    match go.iter().find(|(needle, _)| detail.contains(needle)) {
        Some((_, code)) => (*code).to_string(),
        None => detail.to_string(),
    }
}

fn backquote(s: &str) -> String {
    format!("`{s}`")
}

/// Rewrites Go's ASCII-only Perl classes (`\d`, `\w`, `\s`, `\b`) and literal `[`, `&`, `~` inside
/// classes into the Rust `regex` equivalents (where those classes are Unicode and `&&` is an operator).
fn translate_go_regex(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let mut chars = p.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('d') => out.push_str("[0-9]"),
                Some('D') => out.push_str("[^0-9]"),
                Some('w') => out.push_str("[0-9A-Za-z_]"),
                Some('W') => out.push_str("[^0-9A-Za-z_]"),
                Some('s') => out.push_str("[\\t\\n\\f\\r ]"),
                Some('S') => out.push_str("[^\\t\\n\\f\\r ]"),
                Some('b') if !in_class => out.push_str("(?-u:\\b)"),
                Some('B') if !in_class => out.push_str("(?-u:\\B)"),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            '[' if chars.peek() == Some(&':') => {
                // A POSIX class such as [:alpha:], copied through.
                out.push('[');
                for c in chars.by_ref() {
                    out.push(c);
                    if c == ']' {
                        break;
                    }
                }
            }
            '[' | '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

/// `%.4g`, the precision of every humanizing function.
fn g4(v: f64) -> String {
    format_float(v, 'g', Some(4))
}

/// A number or numeric string as a float (Prometheus' `ConvertToFloat`).
fn to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => parse_float(s),
        other => Err(format!("can't convert {} to float", other.go_type())),
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal input.
fn parse_float(s: &str) -> Result<f64, String> {
    let lower = s.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    let signed_nan = unsigned.starts_with("nan") && unsigned.len() != lower.len();
    match s.parse::<f64>() {
        Ok(f) if !signed_nan => {
            if f.is_infinite() && !unsigned.starts_with("inf") {
                Err(format!("strconv.ParseFloat: parsing {}: value out of range", quote(s)))
            } else {
                Ok(f)
            }
        }
        _ => Err(format!("strconv.ParseFloat: parsing {}: invalid syntax", quote(s))),
    }
}

fn humanize(v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", g4(v))
}

fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

fn humanize_duration(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let (sign, v) = if v < 0.0 { ("-", -v) } else { ("", v) };
        let duration = v as i64;
        let seconds = duration % 60;
        let minutes = duration / 60 % 60;
        let hours = duration / 60 / 60 % 24;
        let days = duration / 60 / 60 / 24;
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", g4(v));
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Seconds since the epoch as a time with millisecond precision (Prometheus' `FloatToTime`).
fn float_to_time(v: f64) -> Result<GoTime, String> {
    if v.is_nan() || v.is_infinite() {
        return Err("value is NaN or Inf".to_string());
    }
    let nanos = v * 1e9;
    if nanos > i64::MAX as f64 || nanos < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            gofmt::sprint_one(&Value::Float(v))
        ));
    }
    Ok(GoTime::from_unix_millis(nanos as i64 / 1_000_000))
}

/// A Prometheus duration (`1d2h`, `90s`, `0`) in seconds (`model.ParseDuration`).
fn parse_duration(s: &str) -> Result<f64, String> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3600 * 1_000_000_000),
        ("w", 7 * 24 * 3600 * 1_000_000_000),
        ("d", 24 * 3600 * 1_000_000_000),
        ("h", 3600 * 1_000_000_000),
        ("m", 60 * 1_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ];
    match s {
        "0" => return Ok(0.0),
        "" => return Err("empty duration string".to_string()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", quote(s));
    let mut rest = s;
    let mut total: u64 = 0;
    let mut last_unit = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        if unit_len == 0 {
            return Err(invalid());
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(pos) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(invalid());
        };
        if last_unit.is_some_and(|last| pos <= last) {
            return Err(invalid());
        }
        last_unit = Some(pos);
        let mult = UNITS[pos].1;
        if n > (1u64 << 63) / mult {
            return Err("duration out of range".to_string());
        }
        total += n * mult;
        if total > i64::MAX as u64 {
            return Err("duration out of range".to_string());
        }
    }
    Ok(total as f64 / 1e9)
}

/// Go's `strings.Title`: upper-cases letters that start words (words split at non-letters/digits/`_`).
fn title(s: &str) -> String {
    let is_separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphabetic() || c.is_numeric() {
            false
        } else {
            c.is_whitespace()
        }
    };
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_separator(prev) { single(c, c.to_uppercase()) } else { c };
            prev = c;
            out
        })
        .collect()
}

/// Maps every character, keeping those whose mapping is not a single character (as Go's simple case mapping).
fn map_chars<I: Iterator<Item = char>>(s: &str, f: impl Fn(char) -> I) -> String {
    s.chars().map(|c| single(c, f(c))).collect()
}

fn single(c: char, mut mapped: impl Iterator<Item = char>) -> char {
    match (mapped.next(), mapped.next()) {
        (Some(m), None) => m,
        _ => c,
    }
}

/// Go's `net.SplitHostPort`; `None` where Go returns an error.
fn split_host_port(hostport: &str) -> Option<(&str, &str)> {
    let i = hostport.rfind(':')?;
    let (host, j, k) = if hostport.starts_with('[') {
        let end = hostport.find(']')?;
        if end + 1 != i {
            return None;
        }
        (&hostport[1..end], 1, end + 1)
    } else {
        let host = &hostport[..i];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if hostport[j..].contains('[') || hostport[k..].contains(']') {
        return None;
    }
    Some((host, &hostport[i + 1..]))
}

/// Prometheus' `stripDomain`: the first label of a host name, keeping the port; IPs stay as they are.
fn strip_domain(hostport: &str) -> String {
    let (host, port) = split_host_port(hostport).unwrap_or((hostport, ""));
    if host.parse::<IpAddr>().is_ok() {
        return hostport.to_string();
    }
    let host = host.split('.').next().unwrap_or_default();
    match (port, host.contains(':')) {
        ("", _) => host.to_string(),
        (port, true) => format!("[{host}]:{port}"),
        (port, false) => format!("{host}:{port}"),
    }
}

/// Path of a URL (`url.Parse(u).Path`, without unescaping).
fn url_path(u: &str) -> &str {
    let u = u.split(['?', '#']).next().unwrap_or_default();
    let after_authority = match u.find("://") {
        Some(i) => &u[i + 3..],
        None => match u.strip_prefix("//") {
            Some(rest) => rest,
            None => return u,
        },
    };
    match after_authority.find('/') {
        Some(i) => &after_authority[i..],
        None => "",
    }
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Go's `template.HTMLEscapeString`.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c if !gofmt::is_print(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The operands of `html`, `js` and `urlquery` as one string (Go's `evalArgs`).
fn eval_args(args: &[Value]) -> String {
    if let [Value::Str(s)] = args {
        return s.clone();
    }
    let printable: Vec<Value> = args
        .iter()
        .map(|a| if let Value::Nil = a { Value::Str("<no value>".to_string()) } else { a.clone() })
        .collect();
    gofmt::sprint(&printable)
}

fn len(v: &Value) -> Result<i64, String> {
    Ok(match v {
        Value::Str(s) => s.len(),
        Value::StrMap(m) => m.len(),
        Value::AnyMap(m) => m.len(),
        Value::Samples(s) => s.len(),
        Value::Nil => return Err("len of untyped nil".to_string()),
        Value::Sample(_) => return Err("len of type template.sample".to_string()),
        other => return Err(format!("len of type {}", other.go_type())),
    } as i64)
}

/// An integer index in `0..=cap` (Go's `indexArg`).
fn index_arg(index: &Value, cap: usize) -> Result<usize, String> {
    match index {
        Value::Int(x) if *x >= 0 && (*x as u64) <= cap as u64 => Ok(*x as usize),
        Value::Int(x) => Err(format!("index out of range: {x}")),
        Value::Nil => Err("cannot index slice/array with nil".to_string()),
        other => Err(format!("cannot index slice/array with type {}", other.go_type())),
    }
}

fn index(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    if let Value::Nil = item {
        return Err("index of untyped nil".to_string());
    }
    let mut item = item.clone();
    for ix in indexes {
        item = match &item {
            Value::Str(s) => {
                let x = index_arg(ix, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => Value::Int(i64::from(*b)),
                    None => return Err(format!("index out of range: {x}")),
                }
            }
            Value::Samples(list) => {
                let x = index_arg(ix, list.len())?;
                match list.get(x) {
                    Some(s) => Value::Sample(s.clone()),
                    None => return Err(format!("index out of range: {x}")),
                }
            }
            Value::StrMap(m) => Value::Str(m.get(map_key(ix)?).cloned().unwrap_or_default()),
            Value::AnyMap(m) => m.get(map_key(ix)?).cloned().unwrap_or(Value::Nil),
            Value::Nil => return Err("index of nil pointer".to_string()),
            Value::Sample(_) => return Err("can't index item of type template.sample".to_string()),
            other => return Err(format!("can't index item of type {}", other.go_type())),
        };
    }
    Ok(item)
}

fn map_key(key: &Value) -> Result<&str, String> {
    match key {
        Value::Str(s) => Ok(s),
        Value::Nil => Err("value is nil; should be of type string".to_string()),
        other => Err(format!("value has type {}; should be string", other.go_type())),
    }
}

fn slice(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item {
        Value::Nil => return Err("slice of untyped nil".to_string()),
        Value::Str(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".to_string());
            }
            s.len()
        }
        Value::Samples(list) => list.len(),
        other => return Err(format!("can't slice item of type {}", other.go_type())),
    };
    let mut idx = [0, len, len];
    for (i, ix) in indexes.iter().enumerate() {
        idx[i] = index_arg(ix, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::Str(s) => Value::Str(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned()),
        Value::Samples(list) => Value::Samples(Rc::new(list[idx[0]..idx[1]].to_vec())),
        _ => Value::Nil,
    })
}

/// Go's comparison kinds; `None` for values that are not basic.
#[derive(PartialEq, Clone, Copy)]
enum BasicKind {
    Bool,
    Int,
    Float,
    Str,
}

fn basic_kind(v: &Value) -> Option<BasicKind> {
    match v {
        Value::Bool(_) => Some(BasicKind::Bool),
        Value::Int(_) => Some(BasicKind::Int),
        Value::Float(_) => Some(BasicKind::Float),
        Value::Str(_) => Some(BasicKind::Str),
        _ => None,
    }
}

const INCOMPATIBLE: &str = "incompatible types for comparison";
const INVALID_TYPE: &str = "invalid type for comparison";

/// `eq a b c...`: whether `a` equals any of the others.
fn eq(a: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".to_string());
    }
    for b in others {
        let truth = match (basic_kind(a), basic_kind(b)) {
            (Some(k1), Some(k2)) if k1 != k2 => return Err(INCOMPATIBLE.to_string()),
            (Some(_), Some(_)) => compare(a, b) == Some(Ordering::Equal),
            (Some(_), None) | (None, Some(_)) => {
                if matches!(a, Value::Nil) || matches!(b, Value::Nil) {
                    false
                } else {
                    return Err(INCOMPATIBLE.to_string());
                }
            }
            (None, None) => match (a, b) {
                (Value::Nil, Value::Nil) => true,
                (Value::Nil, _) | (_, Value::Nil) => false,
                (Value::Sample(x), Value::Sample(y)) => Rc::ptr_eq(x, y),
                (Value::Time(x), Value::Time(y)) => x == y,
                (x, y) if x.go_type() != y.go_type() => return Err(INCOMPATIBLE.to_string()),
                (x, _) => return Err(format!("non-comparable type {}: {}", gofmt::sprint_one(x), x.go_type())),
            },
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let k1 = basic_kind(a).ok_or(INVALID_TYPE)?;
    let k2 = basic_kind(b).ok_or(INVALID_TYPE)?;
    if k1 != k2 {
        return Err(INCOMPATIBLE.to_string());
    }
    if k1 == BasicKind::Bool {
        return Err(INVALID_TYPE.to_string());
    }
    Ok(compare(a, b) == Some(Ordering::Less))
}

fn le(a: &Value, b: &Value) -> Result<bool, String> {
    Ok(lt(a, b)? || eq(a, std::slice::from_ref(b))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanizers_match_prometheus() {
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(0.00123), "1.23m");
        assert_eq!(humanize(-1234.0), "-1.234k");
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(1e30), "1e+06Y");
        assert_eq!(humanize1024(1048576.0), "1Mi");
        assert_eq!(humanize1024(0.5), "0.5");
        assert_eq!(humanize_duration(3661.0), "1h 1m 1s");
        assert_eq!(humanize_duration(0.5), "500ms");
        assert_eq!(humanize_duration(90061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(-61.0), "-1m 1s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(humanize_duration(0.000_001_5), "1.5us");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Ok(5400.0));
        assert_eq!(parse_duration("1d"), Ok(86400.0));
        assert_eq!(parse_duration("250ms"), Ok(0.25));
        assert_eq!(parse_duration("0"), Ok(0.0));
        assert_eq!(parse_duration("1m1h"), Err("not a valid duration string: \"1m1h\"".to_string()));
        assert_eq!(parse_duration("5x"), Err("not a valid duration string: \"5x\"".to_string()));
    }

    #[test]
    fn hosts() {
        assert_eq!(split_host_port("a.b:80"), Some(("a.b", "80")));
        assert_eq!(split_host_port("[::1]:80"), Some(("::1", "80")));
        assert_eq!(split_host_port("::1"), None);
        assert_eq!(split_host_port("a.b"), None);
        assert_eq!(strip_domain("foo.example.com:9090"), "foo:9090");
        assert_eq!(strip_domain("foo.example.com"), "foo");
        assert_eq!(strip_domain("10.0.0.1:9090"), "10.0.0.1:9090");
        assert_eq!(strip_domain("[::1]:9090"), "[::1]:9090");
        assert_eq!(url_path("https://example.com/prom/"), "/prom/");
        assert_eq!(url_path("http://example.com"), "");
        assert_eq!(url_path("http://example.com/x?y=1"), "/x");
    }

    #[test]
    fn strings() {
        assert_eq!(
            title("hello-world o'neil foo.bar foo_bar 123abc éa"),
            "Hello-World O'Neil Foo.Bar Foo_bar 123abc Éa"
        );
        assert_eq!(map_chars("straße", |c| c.to_uppercase()), "STRAßE");
        assert_eq!(query_escape("up{job=\"a b\"}/~"), "up%7Bjob%3D%22a+b%22%7D%2F~");
        assert_eq!(html_escape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;");
        assert_eq!(js_escape("a'b\"<\n"), "a\\'b\\\"\\u003C\\u000A");
        assert_eq!(translate_go_regex(r"\d+[\w.]\b[^]a&&b]"), r"[0-9]+[[0-9A-Za-z_].](?-u:\b)[^\]a\&\&b]");
        assert_eq!(parse_float("1e3"), Ok(1000.0));
        assert!(parse_float("+NaN").is_err());
        assert_eq!(parse_float("x"), Err("strconv.ParseFloat: parsing \"x\": invalid syntax".to_string()));
        assert_eq!(parse_float("1e999"), Err("strconv.ParseFloat: parsing \"1e999\": value out of range".to_string()));
    }
}
