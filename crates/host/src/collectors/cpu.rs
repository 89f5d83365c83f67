//! `cpu`: per-CPU time by mode from /proc/stat, in seconds.

use super::{num, parse_err, read, Context};
use crate::{Family, HostError, Kind};

/// /proc/stat's columns after `cpuN`, as node_exporter names them; guest columns are separate.
const MODES: [&str; 8] = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];

pub(crate) fn collect(ctx: &Context, out: &mut Vec<Family>) -> Result<(), HostError> {
    let path = ctx.proc("stat");
    let text = read(&path)?;
    let mut seconds = Family::new("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", Kind::Counter);
    let mut guest = Family::new(
        "node_cpu_guest_seconds_total",
        "Seconds the CPUs spent in guests (VMs) for each mode.",
        Kind::Counter,
    );
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(cpu) = fields.next().and_then(|f| f.strip_prefix("cpu")).filter(|n| !n.is_empty()) else {
            continue;
        };
        if !cpu.bytes().all(|b| b.is_ascii_digit()) {
            return Err(parse_err(&path, format!("invalid cpu line {line:?}")));
        }
        // Older kernels have fewer columns; procfs (node_exporter's parser) reads the missing ones as 0.
        let mut ticks = [0.0; 10];
        for (slot, f) in ticks.iter_mut().zip(fields) {
            *slot = num(&path, f)?;
        }
        for (mode, t) in MODES.iter().zip(ticks) {
            seconds.push(&[("cpu", cpu), ("mode", mode)], t / ctx.user_hz);
        }
        guest.push(&[("cpu", cpu), ("mode", "user")], ticks[8] / ctx.user_hz);
        guest.push(&[("cpu", cpu), ("mode", "nice")], ticks[9] / ctx.user_hz);
    }
    if seconds.samples.is_empty() {
        return Err(parse_err(&path, "no cpuN lines"));
    }
    out.push(seconds);
    out.push(guest);
    Ok(())
}
