//! `meminfo`: every /proc/meminfo field as `node_memory_<Field>[_bytes]`.

use super::{num, parse_err, read, Context};
use crate::{Family, HostError, Kind};

pub(crate) fn collect(ctx: &Context, out: &mut Vec<Family>) -> Result<(), HostError> {
    let path = ctx.proc("meminfo");
    let text = read(&path)?;
    let start = out.len();
    for line in text.lines() {
        let mut parts = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else { continue };
        let key = key.strip_suffix(':').unwrap_or(key);
        let mut value = num(&path, value)?;
        let mut field = metric_key(key);
        match (parts.next(), parts.next()) {
            (None, _) => {}
            // The only unit the kernel writes is kB (meaning KiB).
            (Some(_), None) => {
                value *= 1024.0;
                field.push_str("_bytes");
            }
            _ => return Err(parse_err(&path, format!("invalid line {line:?}"))),
        }
        out.push(Family::single(
            format!("node_memory_{field}"),
            format!("Memory information field {field}."),
            Kind::Gauge,
            value,
        ));
    }
    if out.len() == start {
        return Err(parse_err(&path, "no fields"));
    }
    Ok(())
}

/// node_exporter's key: `Active(anon)` becomes `Active_anon`; other characters stay as they are.
fn metric_key(key: &str) -> String {
    match (key.find('('), key.rfind(')')) {
        (Some(open), Some(close)) if open < close => {
            format!("{}_{}{}", &key[..open], &key[open + 1..close], &key[close + 1..])
        }
        _ => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::metric_key;

    #[test]
    fn keys_as_node_exporter_derives_them() {
        assert_eq!(metric_key("MemTotal"), "MemTotal");
        assert_eq!(metric_key("Active(anon)"), "Active_anon");
        assert_eq!(metric_key("Inactive(file)"), "Inactive_file");
        assert_eq!(metric_key("HugePages_Total"), "HugePages_Total");
    }
}
