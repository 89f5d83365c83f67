//! `diskstats`: per block device I/O counters from /proc/diskstats, and `node_disk_info`.

use std::collections::HashMap;

use super::{num, parse_err, read, Context};
use crate::{Family, HostError, Kind};

/// Sectors in /proc/diskstats are always 512 bytes, whatever the device's sector size.
const SECTOR: f64 = 512.0;
/// Milliseconds to seconds.
const MS: f64 = 0.001;

/// (column after the device name, metric, help, type, scale); columns past the line's length are
/// skipped, since older kernels have 11 or 15 of them instead of 17.
const COLUMNS: [(usize, &str, &str, Kind, f64); 17] = [
    (0, "reads_completed_total", "The total number of reads completed successfully.", Kind::Counter, 1.0),
    (1, "reads_merged_total", "The total number of reads merged.", Kind::Counter, 1.0),
    (2, "read_bytes_total", "The total number of bytes read successfully.", Kind::Counter, SECTOR),
    (3, "read_time_seconds_total", "The total number of seconds spent by all reads.", Kind::Counter, MS),
    (4, "writes_completed_total", "The total number of writes completed successfully.", Kind::Counter, 1.0),
    (5, "writes_merged_total", "The number of writes merged.", Kind::Counter, 1.0),
    (6, "written_bytes_total", "The total number of bytes written successfully.", Kind::Counter, SECTOR),
    (7, "write_time_seconds_total", "This is the total number of seconds spent by all writes.", Kind::Counter, MS),
    (8, "io_now", "The number of I/Os currently in progress.", Kind::Gauge, 1.0),
    (9, "io_time_seconds_total", "Total seconds spent doing I/Os.", Kind::Counter, MS),
    (10, "io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", Kind::Counter, MS),
    (11, "discards_completed_total", "The total number of discards completed successfully.", Kind::Counter, 1.0),
    (12, "discards_merged_total", "The total number of discards merged.", Kind::Counter, 1.0),
    (13, "discarded_sectors_total", "The total number of sectors discarded successfully.", Kind::Counter, 1.0),
    (14, "discard_time_seconds_total", "This is the total number of seconds spent by all discards.", Kind::Counter, MS),
    (15, "flush_requests_total", "The total number of flush requests completed successfully", Kind::Counter, 1.0),
    (
        16,
        "flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        Kind::Counter,
        MS,
    ),
];

/// udev properties shown as `node_disk_info` labels: (label, udev key).
const UDEV_LABELS: [(&str, &str); 5] = [
    ("path", "ID_PATH"),
    ("wwn", "ID_WWN"),
    ("model", "ID_MODEL"),
    ("serial", "ID_SERIAL_SHORT"),
    ("revision", "ID_REVISION"),
];

pub(crate) fn collect(ctx: &Context, out: &mut Vec<Family>) -> Result<(), HostError> {
    let path = ctx.proc("diskstats");
    let text = read(&path)?;
    let mut families: Vec<Family> =
        COLUMNS.iter().map(|(_, name, help, kind, _)| Family::new(format!("node_disk_{name}"), *help, *kind)).collect();
    let mut info = Family::new("node_disk_info", "Info of /sys/block/<block_device>.", Kind::Gauge);
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 14 {
            return Err(parse_err(&path, format!("too few fields in {line:?}")));
        }
        let (major, minor, dev) = (fields[0], fields[1], fields[2]);
        if ctx.disk_exclude.is_match(dev) {
            continue;
        }
        let stats = &fields[3..];
        for ((col, _, _, _, scale), family) in COLUMNS.iter().zip(&mut families) {
            if let Some(v) = stats.get(*col) {
                family.push(&[("device", dev)], num(&path, v)? * scale);
            }
        }
        let udev = read_udev(ctx, major, minor);
        let mut labels: Vec<(&str, &str)> = vec![("device", dev), ("major", major), ("minor", minor)];
        for (label, key) in UDEV_LABELS {
            labels.push((label, udev.get(key).map_or("", String::as_str)));
        }
        info.push(&labels, 1.0);
    }
    out.extend(families);
    out.push(info);
    Ok(())
}

/// The `E:KEY=value` properties of udev's record for a block device (empty if udev keeps none).
fn read_udev(ctx: &Context, major: &str, minor: &str) -> HashMap<String, String> {
    let file = ctx.opts.udev_data_path.join(format!("b{major}:{minor}"));
    let Ok(text) = std::fs::read_to_string(file) else { return HashMap::new() };
    text.lines()
        .filter_map(|l| l.strip_prefix("E:"))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
