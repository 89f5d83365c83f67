//! Prometheus' OTLP name translation (the `prometheus/otlptranslator` rules, underscore escaping):
//! metric names get unit and type suffixes, invalid characters become `_`, label names are
//! sanitised.

/// How a metric is classified for naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameType {
    /// A gauge (gets `_ratio` for unit `1`).
    Gauge,
    /// A monotonic cumulative sum (gets `_total`).
    Counter,
    /// A non-monotonic sum: no type suffix.
    NonMonotonicCounter,
    /// A histogram: no type suffix here (`_bucket`, `_sum`, `_count` are added per series).
    Histogram,
    /// A summary: no type suffix here.
    Summary,
}

/// OTLP (UCUM) units and their Prometheus names.
const UNITS: &[(&str, &str)] = &[
    ("d", "days"),
    ("h", "hours"),
    ("min", "minutes"),
    ("s", "seconds"),
    ("ms", "milliseconds"),
    ("us", "microseconds"),
    ("ns", "nanoseconds"),
    ("By", "bytes"),
    ("KiBy", "kibibytes"),
    ("MiBy", "mebibytes"),
    ("GiBy", "gibibytes"),
    ("TiBy", "tibibytes"),
    ("KBy", "kilobytes"),
    ("MBy", "megabytes"),
    ("GBy", "gigabytes"),
    ("TBy", "terabytes"),
    ("m", "meters"),
    ("V", "volts"),
    ("A", "amperes"),
    ("J", "joules"),
    ("W", "watts"),
    ("g", "grams"),
    ("Cel", "celsius"),
    ("Hz", "hertz"),
    ("1", ""),
    ("%", "percent"),
];

/// Units after `/`, in the singular.
const PER_UNITS: &[(&str, &str)] =
    &[("s", "second"), ("m", "minute"), ("h", "hour"), ("d", "day"), ("w", "week"), ("mo", "month"), ("y", "year")];

fn is_metric_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

/// The Prometheus metric name for an OTLP metric (`UnderscoreEscapingWithSuffixes` when
/// `with_suffixes`, else `UnderscoreEscapingWithoutSuffixes`); `None` when nothing valid is left.
pub fn metric_name(name: &str, unit: &str, typ: NameType, with_suffixes: bool) -> Option<String> {
    let out = if with_suffixes {
        let mut tokens: Vec<String> =
            name.split(|c| !is_metric_char(c)).filter(|t| !t.is_empty()).map(String::from).collect();
        let (main, per) = unit_suffixes(unit);
        add_unit_tokens(&mut tokens, clean_unit(&main), clean_unit(&per));
        if typ == NameType::Counter {
            tokens.retain(|t| t != "total");
            tokens.push("total".into());
        }
        if unit == "1" && typ == NameType::Gauge {
            tokens.retain(|t| t != "ratio");
            tokens.push("ratio".into());
        }
        tokens.join("_")
    } else {
        name.split(|c: char| !(is_metric_char(c) || c == '_')).filter(|t| !t.is_empty()).collect::<Vec<_>>().join("_")
    };
    if out.is_empty() || out.chars().all(|c| c == '_') {
        return None;
    }
    Some(if out.starts_with(|c: char| c.is_ascii_digit()) { format!("_{out}") } else { out })
}

/// Prometheus' label-name normalisation: invalid characters become `_`, a leading digit gets a
/// `key_` prefix, a single leading underscore a `key` prefix (`__` is kept).
pub fn label_name(name: &str) -> String {
    let s: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("key_{s}")
    } else if s.starts_with('_') && !s.starts_with("__") {
        format!("key{s}")
    } else {
        s
    }
}

/// Splits a unit at `/` into the main unit's and the "per" unit's suffix; `{…}` annotations give none.
fn unit_suffixes(unit: &str) -> (String, String) {
    let mut parts = unit.splitn(2, '/');
    let main = parts.next().unwrap_or("").trim();
    let main = if main.is_empty() || main.contains(['{', '}']) {
        String::new()
    } else {
        UNITS.iter().find(|(u, _)| *u == main).map_or(main, |(_, p)| p).to_string()
    };
    let per = match parts.next().map(str::trim) {
        Some(p) if !p.is_empty() && !p.contains(['{', '}']) => {
            format!("per_{}", PER_UNITS.iter().find(|(u, _)| *u == p).map_or(p, |(_, s)| s))
        }
        _ => String::new(),
    };
    (main, per)
}

/// Invalid characters to `_`, runs of `_` collapsed, a leading `_` removed.
fn clean_unit(unit: &str) -> String {
    let mut out = String::with_capacity(unit.len());
    for c in unit.chars().map(|c| if is_metric_char(c) { c } else { '_' }) {
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out.strip_prefix('_').map(String::from).unwrap_or(out)
}

fn add_unit_tokens(tokens: &mut Vec<String>, mut main: String, per: String) {
    if tokens.contains(&main) {
        main.clear();
    }
    let per = if per == "per_" {
        String::new()
    } else {
        let p = per.strip_suffix('_').unwrap_or(&per).to_string();
        if tokens.contains(&p) {
            String::new()
        } else {
            p
        }
    };
    if !per.is_empty() {
        main = main.strip_suffix('_').unwrap_or(&main).to_string();
    }
    if !main.is_empty() {
        tokens.push(main);
    }
    if !per.is_empty() {
        tokens.push(per);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the table in `testdata/otlp_names.tsv`: name, unit, type, expected (`-` = rejected).
    #[test]
    fn name_translation_table() {
        let table = include_str!("../../testdata/otlp_names.tsv");
        let mut n = 0;
        for (i, line) in table.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 5, "line {}: {line:?}", i + 1);
            let typ = match f[2] {
                "gauge" => NameType::Gauge,
                "counter" => NameType::Counter,
                "updown" => NameType::NonMonotonicCounter,
                "histogram" => NameType::Histogram,
                "summary" => NameType::Summary,
                t => panic!("line {}: type {t}", i + 1),
            };
            let with_suffixes = match f[3] {
                "suffixes" => true,
                "plain" => false,
                m => panic!("line {}: mode {m}", i + 1),
            };
            let want = if f[4] == "-" { None } else { Some(f[4].to_string()) };
            let name = f[0].replace("<empty>", "");
            let unit = f[1].replace("<empty>", "");
            assert_eq!(metric_name(&name, &unit, typ, with_suffixes), want, "line {}: {line:?}", i + 1);
            n += 1;
        }
        assert!(n > 20);
    }

    #[test]
    fn label_names() {
        for (i, o) in [
            ("http.method", "http_method"),
            ("2xx", "key_2xx"),
            ("_private", "key_private"),
            ("__reserved", "__reserved"),
            ("ümlaut", "key_mlaut"),
            ("a-b/c", "a_b_c"),
        ] {
            assert_eq!(label_name(i), o, "{i}");
        }
    }
}
