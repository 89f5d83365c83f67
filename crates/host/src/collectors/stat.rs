//! `stat`: boot time, context switches, forks, interrupts and process states from /proc/stat.

use super::{num, parse_err, read, Context};
use crate::{Family, HostError, Kind};

/// (first word of the line, metric name, help, type)
const FIELDS: [(&str, &str, &str, Kind); 6] = [
    ("btime", "node_boot_time_seconds", "Node boot time, in unixtime.", Kind::Gauge),
    ("ctxt", "node_context_switches_total", "Total number of context switches.", Kind::Counter),
    ("processes", "node_forks_total", "Total number of forks.", Kind::Counter),
    ("intr", "node_intr_total", "Total number of interrupts serviced.", Kind::Counter),
    ("procs_running", "node_procs_running", "Number of processes in runnable state.", Kind::Gauge),
    ("procs_blocked", "node_procs_blocked", "Number of processes blocked waiting for I/O to complete.", Kind::Gauge),
];

pub(crate) fn collect(ctx: &Context, out: &mut Vec<Family>) -> Result<(), HostError> {
    let path = ctx.proc("stat");
    let text = read(&path)?;
    let mut values: [Option<f64>; 6] = [None; 6];
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        let Some(key) = words.next() else { continue };
        if let Some(i) = FIELDS.iter().position(|f| f.0 == key) {
            // `intr` is followed by per-IRQ counts; its first number is the total.
            let v = words.next().ok_or_else(|| parse_err(&path, format!("{key} without a value")))?;
            values[i] = Some(num(&path, v)?);
        }
    }
    for ((key, name, help, kind), v) in FIELDS.iter().zip(values) {
        let v = v.ok_or_else(|| parse_err(&path, format!("no {key} line")))?;
        out.push(Family::single(*name, *help, *kind, v));
    }
    Ok(())
}
