//! Parsing of `promqltest` scripts (see the conformance README, §1–§3): commands, series descriptors
//! and the value notation. Native-histogram literals are recognised and counted but not decoded.

use std::sync::LazyLock;

use regex::Regex;
use vitals_model::{Labels, PromDuration};

/// One parsed script.
#[derive(Debug, Default)]
pub struct Script {
    pub commands: Vec<Command>,
}

#[derive(Debug)]
pub enum Command {
    Clear,
    Load(Load),
    Eval(Box<Eval>),
}

/// A `load` or `load_with_nhcb` block.
#[derive(Debug)]
pub struct Load {
    pub step: i64,
    pub with_nhcb: bool,
    /// One entry per label set (a later line for the same set replaces the earlier one).
    pub series: Vec<SeriesDef>,
}

/// A series descriptor with its expanded values.
#[derive(Debug, Clone)]
pub struct SeriesDef {
    pub labels: Labels,
    pub values: Vec<Item>,
}

impl SeriesDef {
    pub fn has_histograms(&self) -> bool {
        self.values.iter().any(|v| matches!(v, Item::Histogram))
    }
}

/// One position of an expanded value sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Item {
    /// `_`: no sample at this position.
    Omitted,
    /// A float sample (possibly the stale marker).
    Float(f64),
    /// A native-histogram sample (not decoded).
    Histogram,
}

/// When an eval runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EvalTime {
    Instant(i64),
    Range { start: i64, end: i64, step: i64 },
}

/// How an expected message is matched.
#[derive(Debug, Clone)]
pub enum TextMatch {
    /// `expect fail` / `expect warn` without a message: anything.
    Any,
    /// `msg: <text>`: the whole message.
    Msg(String),
    /// `regex: <re>`: unanchored.
    Regex(Regex),
}

/// An expected output series.
#[derive(Debug, Clone)]
pub struct ExpectedSeries {
    pub labels: Labels,
    /// 1-based position in the listing (for `expect ordered`).
    pub pos: usize,
    pub values: Vec<Item>,
}

/// An `eval` command with everything its body expects.
#[derive(Debug)]
pub struct Eval {
    /// 1-based line of the header.
    pub line: usize,
    pub expr: String,
    pub time: EvalTime,
    /// The query must fail; every matcher must accept the error text.
    pub fail: bool,
    pub fail_matches: Vec<TextMatch>,
    pub warn: Vec<TextMatch>,
    pub info: Vec<TextMatch>,
    pub no_warn: bool,
    pub no_info: bool,
    /// `eval_warn` / `eval_info`: at least one annotation of the kind.
    pub any_warn: bool,
    pub any_info: bool,
    pub ordered: bool,
    /// `expect range vector from .. to .. step ..`: (start, end, step) in ms.
    pub range_vector: Option<(i64, i64, i64)>,
    pub expected_string: Option<String>,
    /// A bare number line: a scalar result is expected.
    pub scalar: Option<Item>,
    pub series: Vec<ExpectedSeries>,
}

impl Eval {
    fn new(line: usize, expr: String, time: EvalTime) -> Self {
        Eval {
            line,
            expr,
            time,
            fail: false,
            fail_matches: Vec::new(),
            warn: Vec::new(),
            info: Vec::new(),
            no_warn: false,
            no_info: false,
            any_warn: false,
            any_info: false,
            ordered: false,
            range_vector: None,
            expected_string: None,
            scalar: None,
            series: Vec::new(),
        }
    }

    /// True when the expected output contains a native histogram.
    pub fn expects_histograms(&self) -> bool {
        self.scalar == Some(Item::Histogram)
            || self.series.iter().any(|s| s.values.iter().any(|v| matches!(v, Item::Histogram)))
    }

    /// Upstream skips the range-mode re-run for these.
    pub fn excluded_from_range_mode(&self) -> bool {
        self.range_vector.is_some() || self.expected_string.is_some()
    }
}

static PAT_LOAD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^load(?:_(with_nhcb))?\s+(.+?)$").unwrap());
static PAT_EVAL_INSTANT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$").unwrap());
static PAT_EVAL_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$").unwrap()
});
static PAT_EXPECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$").unwrap()
});
static PAT_EXPECT_RANGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$").unwrap());

/// Parses a whole script. Errors name the 1-based line.
pub fn parse_script(input: &str) -> Result<Script, String> {
    let lines: Vec<&str> = input
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                ""
            } else {
                l
            }
        })
        .collect();
    let mut script = Script::default();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l.split([' ', '\t']).next().unwrap_or("").to_lowercase();
        let cmd = if word == "clear" {
            Command::Clear
        } else if word.starts_with("load") {
            Command::Load(parse_load(&lines, &mut i)?)
        } else if word.starts_with("eval") {
            Command::Eval(Box::new(parse_eval(&lines, &mut i)?))
        } else {
            return Err(format!("line {}: invalid command {l:?}", i + 1));
        };
        script.commands.push(cmd);
        i += 1;
    }
    Ok(script)
}

fn duration_ms(s: &str) -> Result<i64, String> {
    PromDuration::parse(s.trim()).map(|d| d.as_millis()).map_err(|e| e.to_string())
}

/// Parses a load block starting at `lines[*i]`; leaves `*i` on its last line.
fn parse_load(lines: &[&str], i: &mut usize) -> Result<Load, String> {
    let header_line = *i + 1;
    let err = |line: usize, msg: String| format!("line {line}: {msg}");
    let caps = PAT_LOAD
        .captures(lines[*i])
        .ok_or_else(|| err(header_line, "invalid load command. (load[_with_nhcb] <step:duration>)".into()))?;
    let with_nhcb = caps.get(1).is_some();
    let step = duration_ms(&caps[2]).map_err(|e| err(header_line, format!("invalid step definition: {e}")))?;
    let mut load = Load { step, with_nhcb, series: Vec::new() };
    // (labels, number of offsets, line) of an `@st` line waiting for its value line.
    let mut pending_st: Option<(Labels, usize, usize)> = None;
    while *i + 1 < lines.len() {
        let line = lines[*i + 1];
        if line.is_empty() {
            break;
        }
        *i += 1;
        let line_no = *i + 1;
        if is_st_line(line) {
            if pending_st.is_some() {
                return Err(err(line_no, "@st line has no following sample line".into()));
            }
            let (labels, count) = parse_st_line(line).map_err(|e| err(line_no, e))?;
            if let Some(labels) = labels {
                pending_st = Some((labels, count, line_no));
            }
            continue;
        }
        let def = parse_series_line(line).map_err(|e| err(line_no, e))?;
        if let Some((labels, count, st_line)) = pending_st.take() {
            if labels != def.labels {
                return Err(err(st_line, "@st metric does not match the following sample line metric".into()));
            }
            if count != def.values.len() {
                return Err(err(
                    st_line,
                    format!("@st line has {count} values but sample line has {}", def.values.len()),
                ));
            }
        }
        match load.series.iter_mut().find(|s| s.labels == def.labels) {
            Some(existing) => *existing = def,
            None => load.series.push(def),
        }
    }
    if let Some((_, _, st_line)) = pending_st {
        return Err(err(st_line, "@st line has no following sample line".into()));
    }
    Ok(load)
}

/// A start-timestamp line: the first word ends in `@st`.
fn is_st_line(line: &str) -> bool {
    line.split([' ', '\t']).next().is_some_and(|w| w.ends_with("@st"))
}

/// Parses `metric{..}@st <offsets>` (or a bare `@st <offsets>` default): the metric, if any, and
/// how many positions the offsets cover. Start timestamps themselves are not used by the runner.
fn parse_st_line(line: &str) -> Result<(Option<Labels>, usize), String> {
    let (metric, rest) = line.split_once([' ', '\t']).ok_or("invalid @st line: missing value sequence")?;
    let metric = metric.strip_suffix("@st").unwrap_or(metric);
    let mut count = 0;
    for item in rest.split_whitespace() {
        count += st_item_len(item).map_err(|e| format!("invalid ST item {item:?}: {e}"))?;
    }
    if metric.is_empty() {
        return Ok((None, count));
    }
    let (labels, tail) = parse_descriptor(metric)?;
    if !tail.trim().is_empty() {
        return Err(format!("invalid @st line metric {metric:?}"));
    }
    Ok((Some(labels), count))
}

/// Number of positions of one start-timestamp offset item (`_`, `_xN`, `*`, `*xN`, `<dur>`,
/// `<dur>xN`, `<dur>±<dur>xN`; durations may carry a sign).
fn st_item_len(item: &str) -> Result<usize, String> {
    let count = |n: &str| n.parse::<usize>().map_err(|_| "invalid repeat count".to_string());
    if item == "_" || item == "*" {
        return Ok(1);
    }
    if let Some(n) = item.strip_prefix("_x") {
        return count(n);
    }
    if let Some(n) = item.strip_prefix("*x") {
        return Ok(count(n)? + 1);
    }
    let rest = signed_duration_prefix(item)?;
    if rest.is_empty() {
        return Ok(1);
    }
    if let Some(n) = rest.strip_prefix('x') {
        return Ok(count(n)? + 1);
    }
    let Some(delta) = rest.strip_prefix(['+', '-']) else {
        return Err(format!("unexpected character after duration in {item:?}"));
    };
    let rest = signed_duration_prefix(delta)?;
    let n = rest.strip_prefix('x').ok_or("expected 'x<count>' after step duration")?;
    Ok(count(n)? + 1)
}

/// Skips a duration with an optional sign at the start of `s`; returns the rest.
fn signed_duration_prefix(s: &str) -> Result<&str, String> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let end = body.find(|c: char| !(c.is_ascii_alphanumeric()) || c == 'x').unwrap_or(body.len());
    duration_ms(&body[..end])?;
    Ok(&body[end..])
}

/// Parses an eval command starting at `lines[*i]`; leaves `*i` on its last line.
fn parse_eval(lines: &[&str], i: &mut usize) -> Result<Eval, String> {
    let header = lines[*i];
    let line_no = *i + 1;
    let err = |msg: String| format!("line {line_no}: {msg}");
    let (modifier, mut ev) = if let Some(c) = PAT_EVAL_INSTANT.captures(header) {
        let at = c.get(2).map_or("", |m| m.as_str());
        let t = duration_ms(at).map_err(|e| err(format!("invalid timestamp definition {at:?}: {e}")))?;
        (c.get(1).map(|m| m.as_str()), Eval::new(line_no, c[3].to_string(), EvalTime::Instant(t)))
    } else if let Some(c) = PAT_EVAL_RANGE.captures(header) {
        let start = duration_ms(&c[2]).map_err(|e| err(format!("invalid start timestamp definition: {e}")))?;
        let end = duration_ms(&c[3]).map_err(|e| err(format!("invalid end timestamp definition: {e}")))?;
        let step = duration_ms(&c[4]).map_err(|e| err(format!("invalid step definition: {e}")))?;
        if end < start {
            return Err(err("invalid test definition, end timestamp is before start timestamp".into()));
        }
        (c.get(1).map(|m| m.as_str()), Eval::new(line_no, c[5].to_string(), EvalTime::Range { start, end, step }))
    } else {
        return Err(err(format!("invalid evaluation command {header:?}")));
    };
    match modifier {
        Some("ordered") => ev.ordered = true,
        Some("fail") => ev.fail = true,
        Some("warn") => ev.any_warn = true,
        Some("info") => ev.any_info = true,
        _ => {}
    }
    let legacy_fail = ev.fail;
    let is_instant = matches!(ev.time, EvalTime::Instant(_));

    // Position counter as upstream keeps it: expect lines don't count, other body lines do.
    let mut j = 1usize;
    while *i + 1 < lines.len() {
        let line = lines[*i + 1];
        if line.is_empty() {
            break;
        }
        *i += 1;
        let line_no = *i + 1;
        let err = |msg: String| format!("line {line_no}: {msg}");
        if legacy_fail {
            if let Some(msg) = line.strip_prefix("expected_fail_message") {
                ev.fail_matches.push(TextMatch::Msg(msg.trim().to_string()));
                break;
            }
            if let Some(re) = line.strip_prefix("expected_fail_regexp") {
                let re = Regex::new(re.trim()).map_err(|e| err(format!("invalid regexp: {e}")))?;
                ev.fail_matches.push(TextMatch::Regex(re));
                break;
            }
        }
        if line.starts_with("expect range vector") {
            let c = PAT_EXPECT_RANGE
                .captures(line)
                .ok_or_else(|| err(format!("invalid range vector definition {line:?}")))?;
            let (s, e, st) = (
                duration_ms(&c[1]).map_err(&err)?,
                duration_ms(&c[2]).map_err(&err)?,
                duration_ms(&c[3]).map_err(&err)?,
            );
            if e < s {
                return Err(err("invalid test definition, end timestamp is before start timestamp".into()));
            }
            ev.range_vector = Some((s, e, st));
            j += 1;
            continue;
        }
        if line.starts_with("expect string") {
            let lit = line
                .strip_prefix("expect string ")
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err("expected string literal not valid - a quoted string literal is required".into()))?;
            let (s, rest) = parse_quoted(lit).map_err(|e| err(format!("expected string literal not valid: {e}")))?;
            if !rest.is_empty() {
                return Err(
                    err("expected string literal not valid - check that the string is correctly quoted".into()),
                );
            }
            ev.expected_string = Some(s);
            j += 1;
            continue;
        }
        if line.split(' ').next() == Some("expect") {
            parse_expect(line, &mut ev).map_err(err)?;
            continue;
        }
        if let Some(v) = parse_go_number(line) {
            ev.scalar = Some(Item::Float(v));
            break;
        }
        let def = parse_series_line(line).map_err(&err)?;
        if def.values.len() > 1 && is_instant && ev.range_vector.is_none() {
            return Err(err("expecting multiple values in instant evaluation not allowed".into()));
        }
        let exp = ExpectedSeries { labels: def.labels, pos: j, values: def.values };
        match ev.series.iter_mut().find(|s| s.labels == exp.labels) {
            Some(existing) => *existing = exp,
            None => ev.series.push(exp),
        }
        j += 1;
    }
    Ok(ev)
}

/// One `expect <kind> [msg:|regex: ...]` line.
fn parse_expect(line: &str, ev: &mut Eval) -> Result<(), String> {
    let c = PAT_EXPECT.captures(line.trim()).ok_or_else(|| {
        format!("invalid expect statement {line:?}, must match `expect <type> <match_type>: <string>` format")
    })?;
    let m = match (c.get(2).map(|m| m.as_str()), c.get(3)) {
        (Some("msg"), Some(text)) => TextMatch::Msg(text.as_str().trim().to_string()),
        (Some("regex"), Some(text)) => {
            let pat = text.as_str().trim();
            TextMatch::Regex(Regex::new(pat).map_err(|e| format!("invalid regex {pat}: {e}"))?)
        }
        _ => TextMatch::Any,
    };
    match &c[1] {
        "ordered" => ev.ordered = true,
        "fail" => {
            if ev.fail && !ev.fail_matches.is_empty() {
                return Err("invalid expect lines, multiple expect fail lines are not allowed".into());
            }
            ev.fail = true;
            ev.fail_matches.push(m);
        }
        "warn" => ev.warn.push(m),
        "info" => ev.info.push(m),
        "no_warn" => ev.no_warn = true,
        "no_info" => ev.no_info = true,
        _ => unreachable!("the pattern only admits the kinds above"),
    }
    if ev.no_warn && !ev.warn.is_empty() {
        return Err("invalid expect lines, warn and no_warn cannot be used together".into());
    }
    if ev.no_info && !ev.info.is_empty() {
        return Err("invalid expect lines, info and no_info cannot be used together".into());
    }
    Ok(())
}

/// `<series descriptor> <values>`.
pub fn parse_series_line(line: &str) -> Result<SeriesDef, String> {
    let (labels, rest) = parse_descriptor(line)?;
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return Err(format!("unexpected {rest:?} after series descriptor"));
    }
    let values = parse_values(rest)?;
    Ok(SeriesDef { labels, values })
}

/// Parses `name`, `name{a="x", ...}`, `{__name__="name"}`, `{"utf8.name", a="x"}` at the start of
/// `s`; returns the labels and the rest of `s`. Only `=` matchers are allowed.
pub fn parse_descriptor(s: &str) -> Result<(Labels, &str), String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut rest = s.trim_start();
    let name_len = ident_len(rest);
    let has_name = name_len > 0;
    if has_name {
        pairs.push(("__name__".into(), rest[..name_len].to_string()));
        rest = &rest[name_len..];
    }
    if let Some(body) = rest.strip_prefix('{') {
        rest = body;
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (name, quoted, r) = if rest.starts_with(['"', '\'', '`']) {
                let (n, r) = parse_quoted(rest)?;
                (n, true, r)
            } else {
                let n = ident_len(rest);
                if n == 0 {
                    return Err(format!("expected a label name at {rest:?}"));
                }
                (rest[..n].to_string(), false, &rest[n..])
            };
            rest = r.trim_start();
            if quoted && rest.starts_with([',', '}']) {
                // A bare quoted string is the metric name.
                pairs.push(("__name__".into(), name));
            } else {
                let r = rest.strip_prefix('=').ok_or_else(|| format!("expected '=' after label {name:?}"))?;
                if r.starts_with('~') {
                    return Err(format!("only equality matchers are allowed in series descriptors (label {name:?})"));
                }
                let (value, r) = parse_quoted(r.trim_start())?;
                pairs.push((name, value));
                rest = r.trim_start();
            }
            if let Some(r) = rest.strip_prefix(',') {
                rest = r;
            } else if !rest.starts_with('}') {
                return Err(format!("expected ',' or '}}' at {rest:?}"));
            }
        }
    } else if !has_name {
        return Err(format!("expected a series descriptor at {s:?}"));
    }
    Ok((Labels::from_pairs(pairs), rest))
}

/// Length of the identifier (`[a-zA-Z_:][a-zA-Z0-9_:]*`) at the start of `s`.
fn ident_len(s: &str) -> usize {
    let mut n = 0;
    for (i, c) in s.char_indices() {
        let ok = c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit());
        if !ok {
            break;
        }
        n = i + c.len_utf8();
    }
    n
}

/// A Go/PromQL string literal at the start of `s` (`"…"`, `'…'` with escapes, or back-ticks, raw);
/// returns the decoded text and the rest.
pub fn parse_quoted(s: &str) -> Result<(String, &str), String> {
    let quote = s.chars().next().ok_or("expected a quoted string")?;
    if !matches!(quote, '"' | '\'' | '`') {
        return Err(format!("expected a quoted string at {s:?}"));
    }
    let body = &s[1..];
    if quote == '`' {
        let end = body.find('`').ok_or("unterminated raw string")?;
        return Ok((body[..end].to_string(), &body[end + 1..]));
    }
    let mut out: Vec<u8> = Vec::new();
    let bytes = body.as_bytes();
    let mut k = 0;
    while k < bytes.len() {
        let b = bytes[k];
        if b == quote as u8 {
            let text = String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            return Ok((text, &body[k + 1..]));
        }
        if b == b'\n' {
            break;
        }
        if b != b'\\' {
            out.push(b);
            k += 1;
            continue;
        }
        let esc = *bytes.get(k + 1).ok_or("unterminated escape")?;
        k += 2;
        let hex = |k: usize, n: usize| -> Result<u32, String> {
            body.get(k..k + n)
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("invalid escape in {s:?}"))
        };
        match esc {
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'\\' | b'"' | b'\'' => out.push(esc),
            b'x' => {
                out.push(hex(k, 2)? as u8);
                k += 2;
            }
            b'u' | b'U' => {
                let n = if esc == b'u' { 4 } else { 8 };
                let c = char::from_u32(hex(k, n)?).ok_or_else(|| format!("invalid code point in {s:?}"))?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                k += n;
            }
            b'0'..=b'7' => {
                let oct = body.get(k - 1..k + 2).and_then(|o| u8::from_str_radix(o, 8).ok());
                out.push(oct.ok_or_else(|| format!("invalid octal escape in {s:?}"))?);
                k += 2;
            }
            _ => return Err(format!("unknown escape sequence in {s:?}")),
        }
    }
    Err(format!("unterminated string {s:?}"))
}

/// Splits a value list on spaces and tabs, keeping `{{…}}` histogram literals (which contain
/// spaces) inside their item.
fn value_tokens(s: &str) -> Result<Vec<&str>, String> {
    let mut tokens = Vec::new();
    let mut start: Option<usize> = None;
    let mut k = 0;
    let b = s.as_bytes();
    while k < b.len() {
        if b[k..].starts_with(b"{{") {
            let end = s[k..].find("}}").ok_or_else(|| format!("unterminated histogram literal in {s:?}"))?;
            start.get_or_insert(k);
            k += end + 2;
            continue;
        }
        if b[k] == b' ' || b[k] == b'\t' {
            if let Some(st) = start.take() {
                tokens.push(&s[st..k]);
            }
        } else {
            start.get_or_insert(k);
        }
        k += 1;
    }
    if let Some(st) = start {
        tokens.push(&s[st..]);
    }
    Ok(tokens)
}

/// Expands a value list (`0+10x5 _ stale 1x3 {{…}}x2`) to one item per position.
pub fn parse_values(s: &str) -> Result<Vec<Item>, String> {
    let mut out = Vec::new();
    for tok in value_tokens(s)? {
        expand_item(tok, &mut out).map_err(|e| format!("invalid value {tok:?}: {e}"))?;
    }
    Ok(out)
}

fn repeat_count(s: &str) -> Result<usize, String> {
    let n = s.strip_prefix('x').ok_or("expected 'x<count>'")?;
    n.parse::<usize>().map_err(|_| format!("invalid repeat count {n:?}"))
}

fn expand_item(tok: &str, out: &mut Vec<Item>) -> Result<(), String> {
    if tok == "_" {
        out.push(Item::Omitted);
        return Ok(());
    }
    if let Some(n) = tok.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|_| format!("invalid repeat count {n:?}"))?;
        out.extend(std::iter::repeat_n(Item::Omitted, n));
        return Ok(());
    }
    if tok.starts_with("{{") {
        let rest = skip_histogram(tok)?;
        let n = if rest.is_empty() {
            0
        } else if let Some(delta) = rest.strip_prefix(['+', '-']) {
            repeat_count(skip_histogram(delta)?)?
        } else {
            repeat_count(rest)?
        };
        out.extend(std::iter::repeat_n(Item::Histogram, n + 1));
        return Ok(());
    }
    let (v, rest) = series_value_prefix(tok)?;
    if rest.is_empty() {
        out.push(Item::Float(v));
    } else if rest.starts_with('x') {
        out.extend(std::iter::repeat_n(Item::Float(v), repeat_count(rest)? + 1));
    } else if rest.starts_with(['+', '-']) {
        let (delta, rest) = number_prefix(rest)?;
        let n = repeat_count(rest)?;
        let mut v = v;
        out.push(Item::Float(v));
        for _ in 0..n {
            v += delta;
            out.push(Item::Float(v));
        }
    } else {
        return Err(format!("unexpected {rest:?}"));
    }
    Ok(())
}

/// Checks a `{{key:value …}}` literal at the start of `s` and returns what follows it.
fn skip_histogram(s: &str) -> Result<&str, String> {
    let body = s.strip_prefix("{{").ok_or("expected '{{'")?;
    let end = body.find("}}").ok_or("unterminated histogram literal")?;
    let known = [
        "schema",
        "sum",
        "count",
        "z_bucket",
        "z_bucket_w",
        "buckets",
        "offset",
        "n_buckets",
        "n_offset",
        "custom_values",
        "counter_reset_hint",
    ];
    for field in body[..end].split_whitespace() {
        if let Some((key, _)) = field.split_once(':') {
            if !known.contains(&key) {
                return Err(format!("unknown histogram field {key:?}"));
            }
        }
    }
    Ok(&body[end + 2..])
}

/// A series value at the start of `s`: `stale` or a number (no hexadecimal: `0x5` is "0, 5 times").
fn series_value_prefix(s: &str) -> Result<(f64, &str), String> {
    if let Some(rest) = s.strip_prefix("stale") {
        return Ok((vitals_model::STALE_NAN, rest));
    }
    number_prefix(s)
}

/// A decimal float with optional sign, or `Inf`/`NaN` (any case), at the start of `s`.
fn number_prefix(s: &str) -> Result<(f64, &str), String> {
    let b = s.as_bytes();
    let mut k = 0;
    let neg = match b.first() {
        Some(b'+') => {
            k = 1;
            false
        }
        Some(b'-') => {
            k = 1;
            true
        }
        _ => false,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let word = s.get(k..k + 3).map(str::to_ascii_lowercase);
    match word.as_deref() {
        Some("inf") => return Ok((sign * f64::INFINITY, &s[k + 3..])),
        Some("nan") => return Ok((f64::NAN, &s[k + 3..])),
        _ => {}
    }
    let digits_from = |mut k: usize| {
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        k
    };
    let int_end = digits_from(k);
    let mut end = int_end;
    if end < b.len() && b[end] == b'.' {
        end = digits_from(end + 1);
    }
    if end == k || (end == k + 1 && b[k] == b'.') {
        return Err(format!("expected a number at {s:?}"));
    }
    if end < b.len() && (b[end] == b'e' || b[end] == b'E') {
        let mut e = end + 1;
        if e < b.len() && (b[e] == b'+' || b[e] == b'-') {
            e += 1;
        }
        let e_end = digits_from(e);
        if e_end > e {
            end = e_end;
        }
    }
    let v: f64 = s[..end].parse().map_err(|_| format!("invalid number {:?}", &s[..end]))?;
    Ok((v, &s[end..]))
}

/// Go's `strconv.ParseInt(s, 0, 64)` falling back to `ParseFloat(s, 64)`: the bare-number line.
pub fn parse_go_number(s: &str) -> Option<f64> {
    if let Some(i) = parse_go_int(s) {
        return Some(i as f64);
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    let special = matches!(lower.as_str(), "inf" | "infinity" | "nan");
    let plain = !body.is_empty()
        && body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
        && body.bytes().next().is_some_and(|c| c.is_ascii_digit() || c == b'.');
    if !(special || plain) {
        return None;
    }
    s.parse::<f64>().ok()
}

fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.replace('_', ""))
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.replace('_', ""))
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.replace('_', ""))
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].replace('_', ""))
    } else {
        (10, lower.clone())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i64::from_str_radix(&digits, radix).ok()?;
    Some(if neg { -v } else { v })
}
