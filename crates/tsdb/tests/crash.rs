//! Durability: a writer killed with SIGKILL at random points never loses an acknowledged sample and
//! never duplicates one; a damaged WAL is recovered up to the damage.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use rand::{Rng, SeedableRng};
use vitals_model::Appender;
use vitals_tsdb::{Db, Options};

const SERIES: usize = 20;
const STEP: i64 = 10_000;

fn crash_opts() -> Options {
    let mut o = opts(600_000); // 10-minute blocks, so the child persists blocks and checkpoints often
    o.retention_ms = 0;
    o
}

fn labels(k: usize) -> vitals_model::Labels {
    series("crash_total", &[("k", &k.to_string())])
}

/// The writer, run as a child process by `kill9_never_loses_acknowledged_samples` (ignored on its
/// own: it writes until it is killed).
#[test]
#[ignore = "run as a child process by kill9_never_loses_acknowledged_samples"]
fn crash_child() {
    let dir = std::env::var("VITALS_CRASH_DIR").expect("VITALS_CRASH_DIR names the data directory");
    let db = Db::open(&dir, crash_opts()).unwrap();
    let start = db.head().max_time().max(db.blocks().iter().map(|b| b.meta().max_time).max().unwrap_or(0));
    let start = (start / STEP + 1) * STEP;
    let mut app = db.appender();
    for i in 0.. {
        let t = start + i * STEP;
        for k in 0..SERIES {
            app.append(&labels(k), t, (t / STEP) as f64 * (k + 1) as f64).unwrap();
        }
        app.commit().unwrap();
        #[allow(clippy::print_stdout)] // the parent reads acknowledgements from stdout
        {
            println!("ACK {t}");
        }
        if i % 20 == 19 {
            db.compact().unwrap();
        }
    }
}

#[test]
fn kill9_never_loses_acknowledged_samples() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut acked: Vec<i64> = Vec::new();
    let rounds = 30;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env("VITALS_CRASH_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut ts = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(t) = line.strip_prefix("ACK ") {
                    ts.push(t.trim().parse::<i64>().unwrap());
                }
            }
            ts
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(30..400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let got = reader.join().unwrap();
        acked.extend(got);

        let db = Db::open(dir.path(), crash_opts()).unwrap();
        for k in 0..SERIES {
            let data = dump(&db, &[m("k", &k.to_string())], i64::MIN, i64::MAX);
            let samples = data.first().map(|d| d.1.clone()).unwrap_or_default();
            assert!(
                samples.windows(2).all(|w| w[0].t < w[1].t),
                "round {round}: series {k} has duplicates or disorder"
            );
            for s in &samples {
                assert_eq!(s.v, (s.t / STEP) as f64 * (k + 1) as f64, "round {round}: wrong value at {}", s.t);
            }
            let have: std::collections::HashSet<i64> = samples.iter().map(|s| s.t).collect();
            for t in &acked {
                assert!(have.contains(t), "round {round}: acknowledged sample at {t} of series {k} lost");
            }
        }
    }
    assert!(acked.len() > rounds, "the writer made progress ({} acks)", acked.len());
    let db = Db::open(dir.path(), crash_opts()).unwrap();
    assert!(!db.blocks().is_empty(), "crashes hit a store that had persisted blocks");
}

fn write_commits(dir: &std::path::Path, n: i64) {
    let db = Db::open(dir, crash_opts()).unwrap();
    let mut app = db.appender();
    for i in 0..n {
        for k in 0..3 {
            app.append(&labels(k), i * 1000, i as f64).unwrap();
        }
        app.commit().unwrap();
    }
}

fn segments(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().unwrap().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter(|p| std::fs::metadata(p).unwrap().len() > 0)
        .collect();
    v.sort();
    v
}

fn recovered(dir: &std::path::Path) -> (Vec<i64>, u64) {
    let db = Db::open(dir, crash_opts()).unwrap();
    let data = dump(&db, &[m("k", "0")], i64::MIN, i64::MAX);
    let ts = data.first().map(|d| d.1.iter().map(|s| s.t).collect()).unwrap_or_default();
    (ts, db.metrics().wal_corruptions_total.get())
}

#[test]
fn flipped_bit_in_wal_recovers_everything_before_it() {
    let dir = tempfile::tempdir().unwrap();
    write_commits(dir.path(), 200);
    let seg = segments(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&seg, &bytes).unwrap();
    let (ts, corruptions) = recovered(dir.path());
    assert!(ts.len() > 50 && ts.len() < 200, "recovered {} of 200 commits", ts.len());
    let expected: Vec<i64> = (0..ts.len() as i64).map(|i| i * 1000).collect();
    assert_eq!(ts, expected, "exactly a prefix is recovered");
    assert_eq!(corruptions, 1);
    // The store keeps working after the repair and the repair is stable.
    let (again, _) = recovered(dir.path());
    assert_eq!(again, ts);
}

#[test]
fn truncated_wal_segment_recovers_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    write_commits(dir.path(), 200);
    let seg = segments(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len * 2 / 3 - 3).unwrap();
    drop(f);
    let (ts, _) = recovered(dir.path());
    assert!(ts.len() > 100 && ts.len() < 200, "recovered {} of 200", ts.len());
    let expected: Vec<i64> = (0..ts.len() as i64).map(|i| i * 1000).collect();
    assert_eq!(ts, expected);
}
