//! Compares our exposition with a real node_exporter's on this machine: for each family both export,
//! the same type, help text and label names; for the shared collectors the same series; values within tolerance.
//! Counters are checked against two node_exporter scrapes taken just before and just after ours.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vitals_host::{HostCollector, HostOptions};
use vitals_model::exposition::{parse_series, Entry, TextParser};

const PEER: &str = "prometheus-node-exporter";

/// Whether a peer binary is on PATH. In CI (`CI=true`) a missing peer is a test failure, not a skip.
/// (Copied from crates/vitals/tests/common/mod.rs.)
fn have_peer(bin: &str) -> bool {
    let found =
        Command::new("sh").arg("-c").arg(format!("command -v {bin}")).output().is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("peer {bin} is not installed; .ci/run should have installed it");
        }
        eprintln!("SKIPPED: {bin} is not installed (apt-get install it to run this test)");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Kills (SIGKILL) and reaps the peer when the test ends, panicking or not.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A minimal blocking HTTP/1.1 GET of `http://addr/path`: (status, body).
fn http_get(addr: &str, path: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&resp).to_string();
    let code: u16 = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or("bad response")?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    Ok((code, if chunked { dechunk(body) } else { body.to_string() }))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(len.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// One parsed exposition: family types, and per family its series (sorted label pairs) and values.
#[derive(Default)]
struct Expo {
    types: BTreeMap<String, String>,
    helps: BTreeMap<String, String>,
    series: BTreeMap<String, BTreeMap<Vec<(String, String)>, f64>>,
}

impl Expo {
    fn parse(body: &str) -> Expo {
        let mut e = Expo::default();
        for entry in TextParser::new(body) {
            match entry.unwrap_or_else(|err| panic!("{err}")) {
                Entry::Type { name, kind } => {
                    e.types.insert(name.to_string(), kind.to_string());
                }
                Entry::Help { name, text } => {
                    e.helps.insert(name.to_string(), text.to_string());
                }
                Entry::Sample { series, value, .. } => {
                    let labels = parse_series(series).unwrap();
                    let name = labels.metric_name().unwrap().to_string();
                    let pairs = labels
                        .iter()
                        .filter(|l| l.name.as_str() != "__name__")
                        .map(|l| (l.name.as_str().to_string(), l.value.as_str().to_string()))
                        .collect();
                    e.series.entry(name).or_default().insert(pairs, value);
                }
                _ => {}
            }
        }
        e
    }

    fn label_names(&self, name: &str) -> BTreeSet<String> {
        self.series.get(name).into_iter().flat_map(|s| s.keys().flatten().map(|(k, _)| k.clone())).collect()
    }
}

/// Families of the collectors both sides share, whose series sets must be equal.
fn in_shared_collector(name: &str) -> bool {
    const STAT: [&str; 6] = [
        "node_boot_time_seconds",
        "node_context_switches_total",
        "node_forks_total",
        "node_intr_total",
        "node_procs_running",
        "node_procs_blocked",
    ];
    name.starts_with("node_cpu_seconds_total")
        || name.starts_with("node_cpu_guest_seconds_total")
        || name.starts_with("node_memory_")
        || name.starts_with("node_load")
        || name.starts_with("node_filesystem_")
        || name.starts_with("node_disk_")
        || (name.starts_with("node_network_receive_") || name.starts_with("node_network_transmit_"))
            && name.ends_with("_total")
        || STAT.contains(&name)
}

/// How a value of ours may differ from node_exporter's.
enum Tolerance {
    /// Must be bit-for-bit equal (totals, sizes, constants).
    Exact,
    /// A counter: between the scrape before ours and the one after, give or take `slack`.
    Bracket { slack: f64 },
    /// A gauge within `abs` of the scrape before ours.
    Near { abs: f64 },
    /// Too volatile to compare (running processes, I/Os in flight, our own scrape durations).
    Skip,
}

fn tolerance(name: &str, kind: &str, mem_total: f64, fs_size: f64) -> Tolerance {
    use Tolerance::*;
    match name {
        "node_memory_MemTotal_bytes" | "node_memory_SwapTotal_bytes" | "node_memory_Hugepagesize_bytes" => Exact,
        "node_memory_VmallocTotal_bytes" | "node_memory_CommitLimit_bytes" | "node_memory_HugePages_Total" => Exact,
        "node_filesystem_size_bytes" | "node_filesystem_files" | "node_filesystem_readonly" => Exact,
        "node_filesystem_device_error" | "node_filefd_maximum" | "node_boot_time_seconds" => Exact,
        "node_uname_info" | "node_disk_info" | "node_time_clocksource_available_info" => Exact,
        "node_time_clocksource_current_info" | "node_netstat_Ip_Forwarding" => Exact,
        "node_load1" | "node_load5" | "node_load15" => Near { abs: 0.5 },
        "node_time_seconds" => Near { abs: 5.0 },
        "node_filefd_allocated" => Near { abs: 500.0 },
        "node_netstat_Tcp_CurrEstab" => Near { abs: 20.0 },
        "node_procs_running" | "node_procs_blocked" | "node_disk_io_now" => Skip,
        n if n.starts_with("node_scrape_collector_") => Skip,
        // Free space moves with whatever else runs (builds, benchmarks): 1% of the disk.
        n if n.starts_with("node_filesystem_") => Near { abs: 0.01 * fs_size.max(1e6) },
        // Memory use moves too: 5% of RAM.
        n if n.starts_with("node_memory_") => Near { abs: 0.05 * mem_total },
        // The kernel's per-CPU iowait (and idle) can step backwards; allow a second either way.
        n if n.starts_with("node_cpu_") => Bracket { slack: 1.0 },
        _ if kind == "counter" || kind == "untyped" => Bracket { slack: 0.0 },
        _ => Near { abs: 0.0 },
    }
}

#[test]
fn matches_node_exporter() {
    if !have_peer(PEER) {
        return;
    }
    let opts = HostOptions::default();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    // The same filters on both sides (Debian patches some of node_exporter's defaults).
    let child = Command::new(PEER)
        .arg(format!("--web.listen-address={addr}"))
        .arg(format!("--collector.filesystem.mount-points-exclude={}", opts.filesystem_mount_points_exclude))
        .arg(format!("--collector.filesystem.fs-types-exclude={}", opts.filesystem_fs_types_exclude))
        .arg(format!("--collector.diskstats.device-exclude={}", opts.diskstats_device_exclude))
        .arg(format!("--collector.netdev.device-exclude={}", opts.netdev_device_exclude))
        .arg(format!("--collector.netstat.fields={}", opts.netstat_fields))
        .arg(format!("--collector.vmstat.fields={}", opts.vmstat_fields))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting node_exporter");
    let mut child = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(st)) = child.0.try_wait() {
            panic!("{PEER} exited with {st}");
        }
        if http_get(&addr, "/metrics").is_ok_and(|(c, _)| c == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "{PEER} not answering on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let collector = HostCollector::new(opts).unwrap();
    let before = Expo::parse(&http_get(&addr, "/metrics").unwrap().1);
    let mut body = String::new();
    collector.render_text(&mut body);
    let after = Expo::parse(&http_get(&addr, "/metrics").unwrap().1);
    let ours = Expo::parse(&body);
    drop(child);

    let mem_total = before.series["node_memory_MemTotal_bytes"].values().next().copied().unwrap_or(0.0);
    let mut problems = Vec::new();
    let mut compared = (0, 0);
    for (name, kind) in &ours.types {
        let Some(their_kind) = before.types.get(name) else { continue };
        compared.0 += 1;
        if kind != their_kind {
            problems.push(format!("{name}: type {kind}, node_exporter {their_kind}"));
        }
        if ours.helps.get(name) != before.helps.get(name) {
            problems.push(format!("{name}: help {:?}, node_exporter {:?}", ours.helps[name], before.helps[name]));
        }
        if ours.label_names(name) != before.label_names(name) {
            problems.push(format!(
                "{name}: label names {:?}, node_exporter {:?}",
                ours.label_names(name),
                before.label_names(name)
            ));
        }
        let (mine, theirs, theirs_after) = (&ours.series[name], &before.series[name], &after.series[name]);
        if in_shared_collector(name) || name.starts_with("node_time_clocksource") {
            let (a, b): (BTreeSet<_>, BTreeSet<_>) = (mine.keys().collect(), theirs.keys().collect());
            if a != b {
                problems.push(format!(
                    "{name}: series only ours {:?}, only node_exporter's {:?}",
                    a.difference(&b).collect::<Vec<_>>(),
                    b.difference(&a).collect::<Vec<_>>()
                ));
            }
        }
        for (labels, &v) in mine {
            let (Some(&t0), Some(&t1)) = (theirs.get(labels), theirs_after.get(labels)) else { continue };
            compared.1 += 1;
            let fs_size = ours.series.get("node_filesystem_size_bytes").and_then(|s| s.get(labels)).copied();
            let ok = match tolerance(name, kind, mem_total, fs_size.unwrap_or(0.0)) {
                Tolerance::Exact => v == t0,
                Tolerance::Near { abs } => (v - t0).abs() <= abs,
                Tolerance::Bracket { slack } => {
                    let eps = 1e-9 * t1.abs().max(1.0);
                    t0 - slack - eps <= v && v <= t1 + slack + eps
                }
                Tolerance::Skip => true,
            };
            if !ok {
                problems.push(format!("{name}{labels:?}: ours {v}, node_exporter {t0} then {t1}"));
            }
        }
    }
    // Families of the shared collectors that node_exporter has and we lack.
    let missing: Vec<&String> = before
        .types
        .keys()
        .filter(|n| in_shared_collector(n) && !ours.types.contains_key(*n))
        // node_exporter's netclass collector (sysfs, not /proc/net/dev), which we do not implement.
        .filter(|n| !n.starts_with("node_network_transmit_queue_length"))
        .collect();
    if !missing.is_empty() {
        problems.push(format!("families node_exporter exports and we do not: {missing:?}"));
    }
    let only_ours: Vec<&String> = ours.types.keys().filter(|n| !before.types.contains_key(*n)).collect();
    eprintln!(
        "compared {} families and {} series with node_exporter; only ours: {only_ours:?}",
        compared.0, compared.1
    );
    assert!(compared.0 > 50, "too few common families: {}", compared.0);
    assert!(problems.is_empty(), "{} differences:\n{}", problems.len(), problems.join("\n"));
}
