//! Small single-file collectors: `loadavg`, `filefd`, `time`, `uname` and `vmstat`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{num, parse_err, read, Context};
use crate::{Family, HostError, Kind};

/// `loadavg`: /proc/loadavg's 1, 5 and 15 minute averages.
pub(crate) fn loadavg(ctx: &Context, out: &mut Vec<Family>) -> Result<(), HostError> {
    let path = ctx.proc("loadavg");
    let text = read(&path)?;
    let mut words = text.split_ascii_whitespace();
    for window in ["1", "5", "15"] {
        let v = words.next().ok_or_else(|| parse_err(&path, "fewer than 3 fields"))?;
        out.push(Family::single(
            format!("node_load{window}"),
            format!("{window}m load average."),
            Kind::Gauge,
            num(&path, v)?,
        ));
    }
    Ok(())
}

/// `filefd`: allocated and maximum file handles from /proc/sys/fs/file-nr.
pub(crate) fn filefd(ctx: &Context, out: &mut Vec<Family>) -> Result<(), HostError> {
    let path = ctx.proc("sys/fs/file-nr");
    let text = read(&path)?;
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let [allocated, _unused, maximum] = words[..] else {
        return Err(parse_err(&path, format!("expected 3 fields, got {text:?}")));
    };
    out.push(Family::single(
        "node_filefd_allocated",
        "File descriptor statistics: allocated.",
        Kind::Gauge,
        num(&path, allocated)?,
    ));
    out.push(Family::single(
        "node_filefd_maximum",
        "File descriptor statistics: maximum.",
        Kind::Gauge,
        num(&path, maximum)?,
    ));
    Ok(())
}

/// `time`: the system clock, and the clock sources the kernel offers and uses.
pub(crate) fn time(ctx: &Context, out: &mut Vec<Family>) -> Result<(), HostError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    out.push(Family::single("node_time_seconds", "System time in seconds since epoch (1970).", Kind::Gauge, now));
    let mut available = Family::new(
        "node_time_clocksource_available_info",
        "Available clocksources read from '/sys/devices/system/clocksource'.",
        Kind::Gauge,
    );
    let mut current = Family::new(
        "node_time_clocksource_current_info",
        "Current clocksource read from '/sys/devices/system/clocksource'.",
        Kind::Gauge,
    );
    // Missing clocksource directories (containers, other platforms) only mean fewer series.
    let dir = ctx.sys("devices/system/clocksource");
    let mut devices: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    devices.sort();
    for name in devices {
        let Some(device) = name.strip_prefix("clocksource") else { continue };
        let base = dir.join(&name);
        if let Ok(text) = std::fs::read_to_string(base.join("available_clocksource")) {
            for cs in text.split_ascii_whitespace() {
                available.push(&[("clocksource", cs), ("device", device)], 1.0);
            }
        }
        if let Ok(text) = std::fs::read_to_string(base.join("current_clocksource")) {
            current.push(&[("clocksource", text.trim()), ("device", device)], 1.0);
        }
    }
    out.push(available);
    out.push(current);
    Ok(())
}

/// `uname`: the uname(2) fields as labels of a constant 1.
pub(crate) fn uname(out: &mut Vec<Family>) -> Result<(), HostError> {
    let u = rustix::system::uname();
    let s = |c: &std::ffi::CStr| c.to_string_lossy().into_owned();
    let (sysname, release, version) = (s(u.sysname()), s(u.release()), s(u.version()));
    let (machine, nodename, domainname) = (s(u.machine()), s(u.nodename()), s(u.domainname()));
    let mut f =
        Family::new("node_uname_info", "Labeled system information as provided by the uname system call.", Kind::Gauge);
    f.push(
        &[
            ("sysname", &sysname),
            ("release", &release),
            ("version", &version),
            ("machine", &machine),
            ("nodename", &nodename),
            ("domainname", &domainname),
        ],
        1.0,
    );
    out.push(f);
    Ok(())
}

/// `vmstat`: the /proc/vmstat fields matching the configured regex, untyped as in node_exporter.
pub(crate) fn vmstat(ctx: &Context, out: &mut Vec<Family>) -> Result<(), HostError> {
    let path = ctx.proc("vmstat");
    let text = read(&path)?;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(' ') else { continue };
        if !ctx.vmstat_fields.is_match(key) {
            continue;
        }
        out.push(Family::single(
            format!("node_vmstat_{key}"),
            format!("/proc/vmstat information field {key}."),
            Kind::Untyped,
            num(&path, value.trim())?,
        ));
    }
    Ok(())
}
