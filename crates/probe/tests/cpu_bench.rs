//! CPU cost of probing: 1,000 HTTP targets every 10 s for 30 s against a local axum server (on its
//! own runtime threads, whose CPU is subtracted), measured from /proc. Must stay under 10 % of one
//! core. Run: `cargo test -p vitals-probe --release --test cpu_bench -- --ignored --nocapture`.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vitals_model::MemStorage;
use vitals_probe::{parse_modules, ProbeCheck, ProbeManager};

const SERVER_THREAD: &str = "bench-server";

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime in ticks from a /proc stat line (fields 14 and 15, after the `(comm)`).
fn ticks(stat: &str) -> (String, u64) {
    let open = stat.find('(').unwrap_or(0);
    let close = stat.rfind(')').unwrap_or(0);
    let comm = stat[open + 1..close].to_string();
    let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    (comm, f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0))
}

/// (whole process, server threads) CPU ticks.
fn cpu() -> (u64, u64) {
    let process = ticks(&std::fs::read_to_string("/proc/self/stat").unwrap()).1;
    let mut server = 0;
    for e in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(s) = std::fs::read_to_string(e.path().join("stat")) {
            let (comm, t) = ticks(&s);
            if comm.starts_with(SERVER_THREAD) {
                server += t;
            }
        }
    }
    (process, server)
}

#[test]
#[ignore = "takes 30 s; run with --ignored"]
fn thousand_http_probes_every_10s_cost_little_cpu() {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
        .unwrap();
    let base = server_rt.block_on(common::http_server());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let db = MemStorage::new();
    let secs = 30.0;
    let (cpu0, cpu1, probes) = rt.block_on(async {
        let mgr = ProbeManager::new(Arc::new(db.clone()));
        let modules =
            parse_modules("web:\n  prober: http\n  timeout: 5s\n  http:\n    preferred_ip_protocol: ip4\n").unwrap();
        let targets: Vec<String> = (0..1000).map(|i| format!("{base}/ok?n={i}")).collect();
        let check = ProbeCheck {
            name: "bench".into(),
            module: "web".into(),
            targets,
            interval: Duration::from_secs(10),
            labels: BTreeMap::new(),
        };
        let start = Instant::now();
        let cpu0 = cpu();
        mgr.apply(&modules, vec![check]).unwrap();
        tokio::time::sleep(Duration::from_secs_f64(secs) - start.elapsed()).await;
        let cpu1 = cpu();
        let ok = mgr.results().iter().filter(|r| r.last.as_ref().is_some_and(|l| l.success)).count();
        mgr.shutdown().await;
        (cpu0, cpu1, ok)
    });
    let hz = clk_tck();
    let total = (cpu1.0 - cpu0.0) as f64 / hz;
    let server = (cpu1.1 - cpu0.1) as f64 / hz;
    let prober = total - server;
    let pct = 100.0 * prober / secs;
    eprintln!(
        "probe bench: 1000 http targets / 10 s for {secs} s ({} samples): prober CPU {prober:.2} s = {pct:.2} % of one core \
         (server threads {server:.2} s, process {total:.2} s); {probes}/1000 targets up",
        db.num_samples()
    );
    assert_eq!(probes, 1000, "every target should have succeeded");
    assert!(pct < 10.0, "prober used {pct:.2} % of one core");
}
