//! Go's `fmt` and `strconv` formatting of template values: `%v`, `Sprint`, `Sprintln`, `Sprintf`.

use std::fmt::Write as _;

use super::value::{Sample, Value};

/// Formats a float as Go's `strconv.FormatFloat(v, verb, prec, 64)`; `None` is precision -1 (shortest).
pub(super) fn format_float(v: f64, verb: char, prec: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let a = v.abs();
    let body = match verb {
        'e' | 'E' => match prec {
            Some(p) => fmt_e(&Decimal::rounded(a, p + 1), p, verb),
            None => {
                let d = Decimal::shortest(a);
                let p = d.d.len().saturating_sub(1);
                fmt_e(&d, p, verb)
            }
        },
        'f' | 'F' => match prec {
            Some(p) => format!("{a:.p$}"),
            None => {
                let d = Decimal::shortest(a);
                fmt_f(&d, (d.d.len() as i32 - d.dp).max(0) as usize)
            }
        },
        _ => fmt_g(a, prec, if verb == 'G' { 'E' } else { 'e' }),
    };
    if v.is_sign_negative() {
        format!("-{body}")
    } else {
        body
    }
}

/// Decimal digits of a non-negative float: value = 0.d[0]d[1]... × 10^dp, without trailing zeros.
struct Decimal {
    d: Vec<u8>,
    dp: i32,
}

impl Decimal {
    /// The shortest digits that read back as `a`.
    fn shortest(a: f64) -> Decimal {
        if a == 0.0 {
            return Decimal { d: Vec::new(), dp: 0 };
        }
        Decimal::from_exp(&format!("{a:e}"))
    }

    /// `a` correctly rounded (ties to even) to `sig` significant digits.
    fn rounded(a: f64, sig: usize) -> Decimal {
        if a == 0.0 {
            return Decimal { d: Vec::new(), dp: 0 };
        }
        let p = sig.max(1) - 1;
        Decimal::from_exp(&format!("{a:.p$e}"))
    }

    fn from_exp(s: &str) -> Decimal {
        let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
        while d.last() == Some(&b'0') {
            d.pop();
        }
        Decimal { d, dp: exp + 1 }
    }
}

/// `%g` as strconv does it: exponent form when the exponent is < -4 or >= the precision (6 if shortest).
fn fmt_g(a: f64, prec: Option<usize>, exp_char: char) -> String {
    let (d, mut p) = match prec {
        None => {
            let d = Decimal::shortest(a);
            let n = d.d.len();
            (d, n)
        }
        Some(p) => {
            let p = p.max(1);
            (Decimal::rounded(a, p), p)
        }
    };
    let nd = d.d.len();
    let mut eprec = p;
    if eprec > nd && nd as i32 >= d.dp {
        eprec = nd;
    }
    if prec.is_none() {
        eprec = 6;
    }
    let exp = d.dp - 1;
    if exp < -4 || exp >= eprec as i32 {
        if p > nd {
            p = nd;
        }
        return fmt_e(&d, p.saturating_sub(1), exp_char);
    }
    if p as i32 > d.dp {
        p = nd;
    }
    fmt_f(&d, (p as i32 - d.dp).max(0) as usize)
}

/// `d.ddde±dd` with `prec` digits after the point.
fn fmt_e(d: &Decimal, prec: usize, exp_char: char) -> String {
    let mut s = String::new();
    s.push(d.d.first().map_or('0', |&c| c as char));
    if prec > 0 {
        s.push('.');
        let m = d.d.len().min(prec + 1);
        for &c in d.d.get(1..m).unwrap_or(&[]) {
            s.push(c as char);
        }
        for _ in m.max(1)..=prec {
            s.push('0');
        }
    }
    s.push(exp_char);
    let exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    s.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(s, "{:02}", exp.abs());
    s
}

/// `ddd.ddd` with `prec` digits after the point.
fn fmt_f(d: &Decimal, prec: usize) -> String {
    let mut s = String::new();
    if d.dp > 0 {
        let dp = d.dp as usize;
        let m = d.d.len().min(dp);
        s.extend(d.d[..m].iter().map(|&c| c as char));
        push_n(&mut s, '0', dp - m);
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 1..=prec as i32 {
            let j = d.dp + i - 1;
            let c = if j >= 0 && (j as usize) < d.d.len() { d.d[j as usize] as char } else { '0' };
            s.push(c);
        }
    }
    s
}

/// Go's `strconv.Quote`.
pub(super) fn quote(s: &str) -> String {
    quote_with(s, '"', false)
}

fn quote_with(s: &str, q: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if !is_print(c) || (ascii_only && !c.is_ascii()) => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// Approximates Go's `unicode.IsPrint`: not a control, format, separator (other than the ASCII
/// space), private-use or noncharacter code point.
pub(super) fn is_print(c: char) -> bool {
    let u = c as u32;
    !(c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(u, 0xA0 | 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E)
        || matches!(u, 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xF0000..)
        || (u & 0xFFFE) == 0xFFFE
        || (0xFDD0..=0xFDEF).contains(&u))
}

/// `fmt.Sprint`: operands in `%v`, with spaces between operands when neither is a string.
pub(super) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        print_arg(&mut out, a, 'v', &Flags::default());
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprintln`: operands in `%v` separated by spaces, then a newline.
pub(super) fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print_arg(&mut out, a, 'v', &Flags::default());
    }
    out.push('\n');
    out
}

/// A value as `fmt.Sprint` prints it.
pub(super) fn sprint_one(v: &Value) -> String {
    let mut out = String::new();
    print_arg(&mut out, v, 'v', &Flags::default());
    out
}

/// A sample as the struct `{map[..] value}` (what an action prints for a `*sample`).
pub(super) fn write_sample_struct(out: &mut String, s: &Sample) {
    out.push('{');
    write_str_map(out, &s.labels, 'v', &Flags::default());
    out.push(' ');
    fmt_float(out, s.value, 'v', &Flags::default());
    out.push('}');
}

/// Formatting flags of one verb.
#[derive(Debug, Default, Clone)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf` with Go's verbs, flags, widths, precisions, argument indexes and error notes.
pub(super) fn sprintf(format: &str, args: &[Value]) -> String {
    let f = format.as_bytes();
    let end = f.len();
    let mut out = String::new();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0usize;
    while i < end {
        let last = i;
        while i < end && f[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[last..i]);
        if i >= end {
            break;
        }
        i += 1;
        let mut fl = Flags::default();
        while i < end {
            match f[i] {
                b'#' => fl.sharp = true,
                b'0' => fl.zero = !fl.minus,
                b'+' => fl.plus = true,
                b'-' => {
                    fl.minus = true;
                    fl.zero = false;
                }
                b' ' => fl.space = true,
                _ => break,
            }
            i += 1;
        }
        let mut good_arg_num = true;
        let mut after_index;
        (arg_num, i, after_index) = arg_number(f, i, arg_num, args.len(), &mut reordered, &mut good_arg_num);
        if i < end && f[i] == b'*' {
            i += 1;
            match int_from_arg(args, arg_num) {
                Some(w) => {
                    if w < 0 {
                        fl.minus = true;
                        fl.zero = false;
                    }
                    fl.wid = Some(w.unsigned_abs() as usize);
                }
                None => out.push_str("%!(BADWIDTH)"),
            }
            arg_num += 1;
            after_index = false;
        } else {
            let (n, ni) = parse_num(f, i);
            fl.wid = n;
            i = ni;
            if after_index && fl.wid.is_some() {
                good_arg_num = false;
            }
        }
        if i + 1 < end && f[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            (arg_num, i, after_index) = arg_number(f, i, arg_num, args.len(), &mut reordered, &mut good_arg_num);
            if i < end && f[i] == b'*' {
                i += 1;
                match int_from_arg(args, arg_num) {
                    Some(p) if p >= 0 => fl.prec = Some(p as usize),
                    Some(_) => {}
                    None => out.push_str("%!(BADPREC)"),
                }
                arg_num += 1;
                after_index = false;
            } else {
                let (n, ni) = parse_num(f, i);
                fl.prec = Some(n.unwrap_or(0));
                i = ni;
            }
        }
        if !after_index {
            (arg_num, i, _) = arg_number(f, i, arg_num, args.len(), &mut reordered, &mut good_arg_num);
        }
        if i >= end {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('%');
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%');
        } else if !good_arg_num {
            let _ = write!(out, "%!{verb}(BADINDEX)");
        } else if arg_num >= args.len() {
            let _ = write!(out, "%!{verb}(MISSING)");
        } else {
            if verb == 'v' {
                // `%#v` and `%+v` select Go syntax and field names, which we do not print.
                fl.sharp = false;
                fl.plus = false;
            }
            print_arg(&mut out, &args[arg_num], verb, &fl);
            arg_num += 1;
        }
    }
    if !reordered && arg_num < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            if let Value::Nil = a {
                out.push_str("<nil>");
            } else {
                out.push_str(a.go_type());
                out.push('=');
                print_arg(&mut out, a, 'v', &Flags::default());
            }
        }
        out.push(')');
    }
    out
}

/// An explicit argument index `[n]` at `f[i]`, if any: (argument number, new i, found).
fn arg_number(
    f: &[u8],
    i: usize,
    arg_num: usize,
    num_args: usize,
    reordered: &mut bool,
    good: &mut bool,
) -> (usize, usize, bool) {
    if i >= f.len() || f[i] != b'[' {
        return (arg_num, i, false);
    }
    *reordered = true;
    let rest = &f[i..];
    if rest.len() >= 3 {
        if let Some(close) = rest.iter().position(|&c| c == b']') {
            let (n, ni) = parse_num(rest, 1);
            if let Some(n) = n.filter(|_| ni == close) {
                if n >= 1 && n - 1 < num_args {
                    return (n - 1, i + close + 1, true);
                }
                *good = false;
                return (arg_num, i + close + 1, true);
            }
            *good = false;
            return (arg_num, i + close + 1, false);
        }
    }
    *good = false;
    (arg_num, i + 1, false)
}

/// Digits at `f[i..]`: (number, index after the digits); `None` when there are none or too many.
fn parse_num(f: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let start = i;
    let mut n = 0usize;
    while i < f.len() && f[i].is_ascii_digit() {
        if n > 1_000_000 {
            return (None, f.len());
        }
        n = n * 10 + (f[i] - b'0') as usize;
        i += 1;
    }
    if i == start {
        (None, i)
    } else {
        (Some(n), i)
    }
}

fn int_from_arg(args: &[Value], n: usize) -> Option<i64> {
    match args.get(n) {
        Some(Value::Int(i)) if i.unsigned_abs() <= 1_000_000 => Some(*i),
        _ => None,
    }
}

/// Prints one operand with a verb, as Go's `pp.printArg`.
fn print_arg(out: &mut String, v: &Value, verb: char, fl: &Flags) {
    if verb == 'T' {
        fmt_s(out, v.go_type(), fl);
        return;
    }
    match v {
        Value::Nil => match verb {
            'v' => pad(out, "<nil>", fl),
            _ => bad_verb(out, v, verb, fl),
        },
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, fl),
            _ => bad_verb(out, v, verb, fl),
        },
        Value::Int(i) => fmt_integer(out, v, *i, verb, fl),
        Value::Float(x) => fmt_float(out, *x, verb, fl),
        Value::Str(s) => fmt_string(out, v, s, verb, fl),
        Value::Time(t) => match verb {
            'v' | 's' | 'x' | 'X' | 'q' => fmt_string(out, v, &t.to_string(), verb, fl),
            _ => bad_verb(out, v, verb, fl),
        },
        _ => print_composite(out, v, verb, fl, 0),
    }
}

/// Maps, lists and structs, printed element by element with the same verb.
fn print_composite(out: &mut String, v: &Value, verb: char, fl: &Flags, depth: usize) {
    match v {
        Value::StrMap(m) => write_str_map(out, m, verb, fl),
        Value::AnyMap(m) => {
            out.push_str("map[");
            for (k, (key, val)) in m.iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                fmt_string(out, &Value::Nil, key, verb, fl);
                out.push(':');
                print_element(out, val, verb, fl, depth + 1);
            }
            out.push(']');
        }
        Value::Samples(list) => {
            out.push('[');
            for (k, s) in list.iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                out.push('&');
                write_sample_struct(out, s);
            }
            out.push(']');
        }
        Value::Sample(s) => {
            out.push('&');
            write_sample_struct(out, s);
        }
        Value::Data(d) => {
            out.push('{');
            write_str_map(out, &d.labels, verb, fl);
            out.push(' ');
            write_str_map(out, &d.external_labels, verb, fl);
            out.push(' ');
            fmt_string(out, &Value::Nil, &d.external_url, verb, fl);
            out.push(' ');
            fmt_float(out, d.value, verb, fl);
            out.push('}');
        }
        other => print_arg(out, other, verb, fl),
    }
}

fn print_element(out: &mut String, v: &Value, verb: char, fl: &Flags, depth: usize) {
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::StrMap(_) | Value::AnyMap(_) | Value::Samples(_) | Value::Sample(_) | Value::Data(_) => {
            print_composite(out, v, verb, fl, depth)
        }
        other => print_arg(out, other, verb, fl),
    }
}

fn write_str_map(out: &mut String, m: &std::collections::BTreeMap<String, String>, verb: char, fl: &Flags) {
    out.push_str("map[");
    for (k, (key, val)) in m.iter().enumerate() {
        if k > 0 {
            out.push(' ');
        }
        fmt_string(out, &Value::Nil, key, verb, fl);
        out.push(':');
        fmt_string(out, &Value::Nil, val, verb, fl);
    }
    out.push(']');
}

/// `%!verb(type=value)`: the operand does not suit the verb.
fn bad_verb(out: &mut String, v: &Value, verb: char, fl: &Flags) {
    let _ = write!(out, "%!{verb}(");
    if let Value::Nil = v {
        out.push_str("<nil>");
    } else {
        out.push_str(v.go_type());
        out.push('=');
        print_arg(out, v, 'v', fl);
    }
    out.push(')');
}

fn push_n(out: &mut String, c: char, n: usize) {
    for _ in 0..n {
        out.push(c);
    }
}

/// Writes `s` padded to the width, on the left unless `-` was given.
fn pad(out: &mut String, s: &str, fl: &Flags) {
    let width = fl.wid.unwrap_or(0).saturating_sub(s.chars().count());
    let pad_char = if fl.zero { '0' } else { ' ' };
    if fl.minus {
        out.push_str(s);
        push_n(out, ' ', width);
    } else {
        push_n(out, pad_char, width);
        out.push_str(s);
    }
}

fn fmt_s(out: &mut String, s: &str, fl: &Flags) {
    match fl.prec {
        Some(p) => {
            let cut: String = s.chars().take(p).collect();
            pad(out, &cut, fl);
        }
        None => pad(out, s, fl),
    }
}

/// A string operand; `v` is the operand for error notes (`Nil` when it is a plain string).
fn fmt_string(out: &mut String, v: &Value, s: &str, verb: char, fl: &Flags) {
    match verb {
        'v' | 's' => fmt_s(out, s, fl),
        'q' => {
            let s: String = match fl.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.to_string(),
            };
            let q = if fl.sharp && !s.contains(['`', '\n', '\r']) && !s.chars().any(char::is_control) {
                format!("`{s}`")
            } else {
                quote_with(&s, '"', fl.plus)
            };
            pad(out, &q, fl);
        }
        'x' | 'X' => {
            let bytes = s.as_bytes();
            let n = fl.prec.map_or(bytes.len(), |p| p.min(bytes.len()));
            let mut h = String::new();
            for (k, b) in bytes[..n].iter().enumerate() {
                if fl.space && k > 0 {
                    h.push(' ');
                }
                if fl.sharp && (fl.space || k == 0) {
                    h.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    let _ = write!(h, "{b:02x}");
                } else {
                    let _ = write!(h, "{b:02X}");
                }
            }
            pad(out, &h, fl);
        }
        _ => {
            let owned;
            let operand = match v {
                Value::Nil => {
                    owned = Value::Str(s.to_string());
                    &owned
                }
                v => v,
            };
            bad_verb(out, operand, verb, fl)
        }
    }
}

fn fmt_integer(out: &mut String, v: &Value, i: i64, verb: char, fl: &Flags) {
    let (base, upper) = match verb {
        'v' | 'd' => (10, false),
        'b' => (2, false),
        'o' | 'O' => (8, false),
        'x' => (16, false),
        'X' => (16, true),
        'c' => {
            let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
            pad(out, c.encode_utf8(&mut [0; 4]), fl);
            return;
        }
        'q' => {
            let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
            pad(out, &quote_with(c.encode_utf8(&mut [0; 4]), '\'', fl.plus), fl);
            return;
        }
        'U' => {
            pad(out, &format!("U+{:04X}", i), fl);
            return;
        }
        _ => return bad_verb(out, v, verb, fl),
    };
    let negative = i < 0;
    let u = i.unsigned_abs();
    if fl.prec == Some(0) && u == 0 {
        let blank = Flags { zero: false, ..fl.clone() };
        pad(out, "", &blank);
        return;
    }
    let mut digits = match (base, upper) {
        (2, _) => format!("{u:b}"),
        (8, _) => format!("{u:o}"),
        (16, false) => format!("{u:x}"),
        (16, true) => format!("{u:X}"),
        _ => u.to_string(),
    };
    let min_digits = match (fl.prec, fl.wid) {
        (Some(p), _) => p,
        (None, Some(w)) if fl.zero && !fl.minus => w - usize::from(negative || fl.plus || fl.space).min(w),
        _ => 0,
    };
    if digits.len() < min_digits {
        digits = format!("{}{digits}", "0".repeat(min_digits - digits.len()));
    }
    let mut s = String::new();
    if negative {
        s.push('-');
    } else if fl.plus {
        s.push('+');
    } else if fl.space {
        s.push(' ');
    }
    if fl.sharp {
        match base {
            2 => s.push_str("0b"),
            8 if !digits.starts_with('0') => s.push('0'),
            16 => s.push_str(if upper { "0X" } else { "0x" }),
            _ => {}
        }
    }
    if verb == 'O' {
        s.push_str("0o");
    }
    s.push_str(&digits);
    let spaces = Flags { zero: false, ..fl.clone() };
    pad(out, &s, &spaces);
}

fn fmt_float(out: &mut String, x: f64, verb: char, fl: &Flags) {
    let (conv, default_prec) = match verb {
        'v' | 'g' => ('g', None),
        'G' => ('G', None),
        'e' | 'E' => (verb, Some(6)),
        'f' | 'F' => ('f', Some(6)),
        // `%x` (hexadecimal float) is not supported; print the shortest decimal instead.
        'x' | 'X' | 'b' => ('g', None),
        _ => return bad_verb(out, &Value::Float(x), verb, fl),
    };
    let body = format_float(x, conv, fl.prec.or(default_prec));
    let mut num = if body.starts_with(['-', '+']) { body } else { format!("+{body}") };
    if fl.space && num.starts_with('+') && !fl.plus {
        num.replace_range(0..1, " ");
    }
    if x.is_nan() || x.is_infinite() {
        if x.is_nan() && !fl.space && !fl.plus {
            num.remove(0);
        }
        let no_zero = Flags { zero: false, ..fl.clone() };
        pad(out, &num, &no_zero);
        return;
    }
    if fl.plus || !num.starts_with('+') {
        match fl.wid {
            Some(w) if fl.zero && w > num.len() => {
                out.push_str(&num[..1]);
                push_n(out, '0', w - num.len());
                out.push_str(&num[1..]);
            }
            _ => pad(out, &num, fl),
        }
        return;
    }
    pad(out, &num[1..], fl);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go_v() {
        let cases = [
            (0.0, "0"),
            (0.5, "0.5"),
            (1.0, "1"),
            (100.0, "100"),
            (123456.0, "123456"),
            (1000000.0, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e21, "1e+21"),
            (-2.5, "-2.5"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (0.1 + 0.2, "0.30000000000000004"),
            (5e-324, "5e-324"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float(v, 'g', None), want, "{v}");
        }
    }

    #[test]
    fn precision_g_e_f() {
        assert_eq!(format_float(1.2345678, 'g', Some(4)), "1.235");
        assert_eq!(format_float(1234.5678, 'g', Some(4)), "1235");
        assert_eq!(format_float(12345.678, 'g', Some(4)), "1.235e+04");
        assert_eq!(format_float(999.94, 'g', Some(4)), "999.9");
        assert_eq!(format_float(999.95, 'g', Some(4)), "1000");
        assert_eq!(format_float(999.96, 'g', Some(4)), "1000");
        assert_eq!(format_float(1.5, 'g', Some(4)), "1.5");
        assert_eq!(format_float(0.0, 'g', Some(4)), "0");
        assert_eq!(format_float(0.000012345, 'g', Some(4)), "1.234e-05");
        assert_eq!(format_float(1234.5678, 'e', Some(2)), "1.23e+03");
        assert_eq!(format_float(0.0, 'e', Some(3)), "0.000e+00");
        assert_eq!(format_float(1e100, 'e', Some(1)), "1.0e+100");
        assert_eq!(format_float(2.5, 'f', Some(0)), "2");
        assert_eq!(format_float(0.125, 'f', Some(2)), "0.12");
        assert_eq!(format_float(-1.0, 'f', Some(3)), "-1.000");
    }

    fn s(x: &str) -> Value {
        Value::Str(x.to_string())
    }

    #[test]
    fn printf_verbs() {
        let cases: Vec<(&str, Vec<Value>, &str)> = vec![
            ("%s=%d", vec![s("a"), Value::Int(42)], "a=42"),
            ("%.2f%%", vec![Value::Float(12.345)], "12.35%"),
            ("%5.1f|%-6s|%06d", vec![Value::Float(2.25), s("ab"), Value::Int(-42)], "  2.2|ab    |-00042"),
            ("%v %v %v", vec![Value::Float(1e6), Value::Bool(true), Value::Nil], "1e+06 true <nil>"),
            ("%q %x %X", vec![s("a\"b\n"), s("hi"), Value::Int(255)], "\"a\\\"b\\n\" 6869 FF"),
            (
                "%e %g %G",
                vec![Value::Float(123456.789), Value::Float(0.000001), Value::Float(1e-7)],
                "1.234568e+05 1e-06 1E-07",
            ),
            ("%d", vec![Value::Float(1.5)], "%!d(float64=1.5)"),
            ("%s", vec![Value::Int(3)], "%!s(int=3)"),
            ("%d %d", vec![Value::Int(1)], "1 %!d(MISSING)"),
            ("%d", vec![Value::Int(1), s("x")], "1%!(EXTRA string=x)"),
            ("%", vec![], "%!(NOVERB)"),
            ("%[2]s %[1]s", vec![s("a"), s("b")], "b a"),
            ("%*d", vec![Value::Int(4), Value::Int(7)], "   7"),
            (
                "%+d % d %x %o %b %c %U",
                vec![
                    Value::Int(5),
                    Value::Int(5),
                    Value::Int(-255),
                    Value::Int(8),
                    Value::Int(5),
                    Value::Int(65),
                    Value::Int(65),
                ],
                "+5  5 -ff 10 101 A U+0041",
            ),
            ("%t %T %T", vec![Value::Bool(false), Value::Float(1.0), s("")], "false float64 string"),
            (
                "%.3s|%8.3f|%-8.2e|",
                vec![s("abcdef"), Value::Float(2.0), Value::Float(1234.5)],
                "abc|   2.000|1.23e+03|",
            ),
            ("%+.1e %+v", vec![Value::Float(0.0), Value::Float(f64::INFINITY)], "+0.0e+00 +Inf"),
            ("%05.1f %06v", vec![Value::Float(-2.25), Value::Float(f64::NAN)], "-02.2    NaN"),
        ];
        for (format, args, want) in cases {
            assert_eq!(sprintf(format, &args), want, "{format}");
        }
    }

    #[test]
    fn sprint_spacing() {
        assert_eq!(sprint(&[s("a"), s("b")]), "ab");
        assert_eq!(sprint(&[Value::Int(1), Value::Int(2), s("x"), Value::Float(0.5)]), "1 2x0.5");
        assert_eq!(sprintln(&[s("a"), Value::Int(1)]), "a 1\n");
        assert_eq!(quote("tab\there ü \u{1}"), "\"tab\\there ü \\x01\"");
    }
}
