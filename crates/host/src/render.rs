//! Text exposition format 0.0.4.

use std::fmt::Write;

use crate::Family;

/// Appends `families` to `out`: `# HELP`, `# TYPE` and one line per sample.
pub(crate) fn write_text(families: &[Family], out: &mut String) {
    for f in families {
        out.push_str("# HELP ");
        out.push_str(&f.name);
        out.push(' ');
        escape_into(out, &f.help, false);
        out.push_str("\n# TYPE ");
        out.push_str(&f.name);
        out.push(' ');
        out.push_str(f.kind.as_str());
        out.push('\n');
        for (labels, value) in &f.samples {
            out.push_str(&f.name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    out.push_str("=\"");
                    escape_into(out, v, true);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            write_value(out, *value);
            out.push('\n');
        }
    }
}

/// Escapes `\` and newlines (and `"` inside label values) as the text format requires.
fn escape_into(out: &mut String, s: &str, quote: bool) {
    if !s.contains(['\\', '\n', '"']) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == 0.0 || (1e-4..1e21).contains(&v.abs()) {
        let _ = write!(out, "{v}");
    } else {
        // Display would spell out every digit of 1e-300 or 1e300; Go and Prometheus write exponents.
        let _ = write!(out, "{v:e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;

    #[test]
    fn renders_help_type_labels_and_escapes() {
        let mut f = Family::new("node_x_total", "A \\ help\nline.", Kind::Counter);
        f.push(&[("device", "a\"b\\c\nd"), ("mode", "idle")], 1.5);
        f.push(&[], f64::NAN);
        let mut g = Family::single("node_y", "Y.", Kind::Untyped, f64::NEG_INFINITY);
        g.push(&[], 3.5e-7);
        g.push(&[], 2.5e22);
        g.push(&[], -0.0);
        let mut out = String::new();
        write_text(&[f, g], &mut out);
        assert_eq!(
            out,
            "# HELP node_x_total A \\\\ help\\nline.\n# TYPE node_x_total counter\n\
             node_x_total{device=\"a\\\"b\\\\c\\nd\",mode=\"idle\"} 1.5\nnode_x_total NaN\n\
             # HELP node_y Y.\n# TYPE node_y untyped\nnode_y -Inf\nnode_y 3.5e-7\nnode_y 2.5e22\nnode_y -0\n"
        );
    }
}
