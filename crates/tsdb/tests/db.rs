//! End-to-end behaviour of the storage engine through its public API, on real files.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use vitals_model::{is_stale_nan, Appender, Queryable, Sample, StorageError, STALE_NAN};
use vitals_tsdb::{Block, Db, HeadOptions, Options};

#[test]
fn append_commit_query_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), opts(2 * HOUR));
    let mut app = db.appender();
    let a = series("http_requests_total", &[("job", "api"), ("code", "200")]);
    let b = series("http_requests_total", &[("job", "api"), ("code", "500")]);
    for i in 0..500 {
        let t = 1_000_000 + i * 15_000;
        app.append(&a, t, i as f64).unwrap();
        app.append(&b, t, (i * 2) as f64 + 0.5).unwrap();
    }
    app.append_stale(&a, 1_000_000 + 500 * 15_000).unwrap();
    // Nothing visible before commit.
    assert!(dump(&db, &[m("job", "api")], 0, i64::MAX).is_empty());
    app.commit().unwrap();
    let got = dump(&db, &[m("__name__", "http_requests_total")], 0, i64::MAX);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, a);
    assert_eq!(got[0].1.len(), 501);
    assert!(is_stale_nan(got[0].1[500].v));
    assert_eq!(got[1].1[10], Sample::new(1_000_000 + 150_000, 20.5));
    // Range restriction is inclusive at both ends.
    let part = dump(&db, &[m("code", "500")], 1_000_000 + 15_000, 1_000_000 + 45_000);
    assert_eq!(part[0].1.len(), 3);
    drop(app);
    drop(db);

    let db = open(dir.path(), opts(2 * HOUR));
    let again = dump(&db, &[m("__name__", "http_requests_total")], 0, i64::MAX);
    assert_eq!(again, got, "WAL replay restores every committed sample");
    let q = db.querier(0, i64::MAX).unwrap();
    assert_eq!(q.label_names(&[]).unwrap(), ["__name__", "code", "job"]);
    assert_eq!(q.label_values("code", &[]).unwrap(), ["200", "500"]);
    assert_eq!(q.label_values("code", &[m("code", "500")]).unwrap(), ["500"]);
}

#[test]
fn rollback_discards_and_nothing_reaches_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), opts(2 * HOUR));
    let mut app = db.appender();
    app.append(&series("x", &[]), 10, 1.0).unwrap();
    app.rollback().unwrap();
    app.commit().unwrap();
    assert!(dump(&db, &[m("__name__", "x")], 0, 100).is_empty());
    drop(app);
    drop(db);
    let db = open(dir.path(), opts(2 * HOUR));
    assert!(dump(&db, &[m("__name__", "x")], 0, 100).is_empty());
}

#[test]
fn out_of_order_window_duplicates_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(2 * HOUR);
    o.head.ooo_window = 60_000;
    let db = open(dir.path(), o.clone());
    let s = series("g", &[]);
    let mut app = db.appender();
    app.append(&s, 100_000, 1.0).unwrap();
    app.commit().unwrap();
    // Inside the window: accepted.
    app.append(&s, 70_000, 2.0).unwrap();
    app.commit().unwrap();
    // Outside the window: rejected with a typed error.
    assert!(matches!(app.append(&s, 10_000, 3.0), Err(StorageError::OutOfOrder { .. })));
    // Same timestamp, same value: silently accepted; other value: rejected.
    app.append(&s, 100_000, 1.0).unwrap();
    assert!(matches!(app.append(&s, 100_000, 9.0), Err(StorageError::DuplicateSample { .. })));
    assert!(matches!(app.append(&s, 70_000, 9.0), Err(StorageError::DuplicateSample { .. })));
    app.commit().unwrap();
    let got = dump(&db, &[m("__name__", "g")], 0, i64::MAX);
    assert_eq!(got[0].1, vec![Sample::new(70_000, 2.0), Sample::new(100_000, 1.0)]);
    let metrics = db.metrics();
    assert_eq!(metrics.out_of_order_samples_total.get(), 1);
    assert_eq!(metrics.duplicate_samples_total.get(), 2);
    assert_eq!(metrics.out_of_order_samples_appended_total.get(), 1);
    let mut text = String::new();
    db.render_metrics(&mut text);
    assert!(text.contains("vitals_tsdb_out_of_order_samples_total 1"), "{text}");
    assert!(text.contains("vitals_tsdb_head_series 1"));
    drop(app);
    drop(db);
    // The out-of-order sample survives a restart.
    let db = open(dir.path(), o);
    assert_eq!(dump(&db, &[m("__name__", "g")], 0, i64::MAX)[0].1.len(), 2);
}

#[test]
fn out_of_order_disabled_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), opts(2 * HOUR));
    let mut app = db.appender();
    app.append(&series("g", &[]), 100, 1.0).unwrap();
    app.commit().unwrap();
    let err = app.append(&series("g", &[]), 50, 1.0).unwrap_err();
    assert!(err.to_string().contains("out of order"), "{err}");
}

#[test]
fn series_limit_is_enforced_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options { head: HeadOptions { max_series: 3, ..HeadOptions::default() }, ..Options::default() };
    let db = open(dir.path(), o);
    let mut app = db.appender();
    for i in 0..3 {
        app.append(&series("s", &[("i", &i.to_string())]), 1, 1.0).unwrap();
    }
    let err = app.append(&series("s", &[("i", "3")]), 1, 1.0).unwrap_err();
    assert!(matches!(err, StorageError::SeriesLimit { limit: 3 }));
    assert!(err.to_string().contains("3 active series"), "{err}");
    // Existing series still accept samples.
    app.append(&series("s", &[("i", "0")]), 2, 1.0).unwrap();
    app.commit().unwrap();
    assert_eq!(db.metrics().series_limit_rejections_total.get(), 1);
}

fn fill(db: &Db, hours: i64, step: i64, nseries: usize) -> i64 {
    let mut app = db.appender();
    let end = hours * HOUR;
    let mut t = 0;
    while t < end {
        for i in 0..nseries {
            let v = if i % 3 == 0 { (t / step) as f64 } else { ((t / step) % 17) as f64 * 0.25 };
            app.append(
                &series("m", &[("i", &i.to_string()), ("kind", if i % 2 == 0 { "even" } else { "odd" })]),
                t + (i as i64 % 5),
                v,
            )
            .unwrap();
        }
        app.commit().unwrap();
        t += step;
    }
    end
}

#[test]
fn compaction_and_retention_keep_query_results_identical() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(HOUR);
    o.retention_ms = 0;
    let db = open(dir.path(), o.clone());
    fill(&db, 7, 30_000, 20);
    let before = dump(&db, &[re("i", ".*")], i64::MIN, i64::MAX);
    assert_eq!(before.len(), 20);
    db.compact().unwrap();
    assert!(!db.blocks().is_empty(), "the head was cut into blocks");
    assert!(db.blocks().iter().any(|b| b.meta().compaction.level >= 2), "blocks were merged");
    let after = dump(&db, &[re("i", ".*")], i64::MIN, i64::MAX);
    assert_eq!(after, before, "compaction changes no query result");
    // Selections with matchers and ranges agree too.
    assert_eq!(dump(&db, &[m("kind", "odd")], HOUR / 2, 5 * HOUR).len(), 10);
    drop(db);

    // Restart: blocks + checkpoint + WAL give the same data.
    let db = open(dir.path(), o.clone());
    assert_eq!(dump(&db, &[re("i", ".*")], i64::MIN, i64::MAX), before);
    drop(db);

    // Retention by age drops whole blocks older than the window behind the newest sample.
    let mut o2 = o.clone();
    o2.retention_ms = 3 * HOUR;
    let db = open(dir.path(), o2);
    db.compact().unwrap();
    let kept = dump(&db, &[m("i", "1")], i64::MIN, i64::MAX);
    let first = kept[0].1.first().unwrap().t;
    assert!(first >= 3 * HOUR, "blocks older than the window dropped, first sample at {first}");
    assert!(db.metrics().retention_deletions_total.get() > 0);
    drop(db);

    // Retention by size keeps the newest blocks under the limit.
    let mut o3 = o;
    o3.retention_bytes = 1;
    let db = open(dir.path(), o3);
    db.compact().unwrap();
    assert!(db.blocks().is_empty());
}

#[test]
fn delete_by_matcher_in_head_and_blocks_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(HOUR);
    o.retention_ms = 0;
    let db = open(dir.path(), o.clone());
    fill(&db, 3, 60_000, 6);
    db.compact().unwrap();
    assert!(!db.blocks().is_empty());
    let n = db.delete(&[m("kind", "even")], 0, i64::MAX).unwrap();
    assert!(n >= 3);
    let left = dump(&db, &[m("kind", "even")], i64::MIN, i64::MAX);
    assert!(
        left.is_empty(),
        "{:?}",
        left.iter()
            .map(|(l, s)| (l.to_string(), s.len(), s.first().map(|x| x.t), s.last().map(|x| x.t)))
            .collect::<Vec<_>>()
    );
    assert_eq!(dump(&db, &[m("kind", "odd")], i64::MIN, i64::MAX).len(), 3);
    // A partial deletion keeps the rest.
    db.delete(&[m("i", "1")], 0, HOUR - 1).unwrap();
    let one = dump(&db, &[m("i", "1")], i64::MIN, i64::MAX);
    assert!(one[0].1.iter().all(|s| s.t >= HOUR));
    drop(db);
    let db = open(dir.path(), o);
    assert!(dump(&db, &[m("kind", "even")], i64::MIN, i64::MAX).is_empty());
    assert!(dump(&db, &[m("i", "1")], i64::MIN, i64::MAX)[0].1.iter().all(|s| s.t >= HOUR));
    // Compaction applies tombstones for good.
    db.flush_head().unwrap();
    assert!(dump(&db, &[m("kind", "even")], i64::MIN, i64::MAX).is_empty());
}

#[test]
fn snapshot_writes_openable_blocks_with_all_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), opts(HOUR));
    fill(&db, 3, 60_000, 4);
    db.compact().unwrap();
    let total: usize = dump(&db, &[re("i", ".*")], i64::MIN, i64::MAX).iter().map(|s| s.1.len()).sum();
    let path = db.snapshot("snap1", true).unwrap();
    assert!(path.ends_with("snapshots/snap1"));
    let mut n = 0u64;
    for e in std::fs::read_dir(&path).unwrap() {
        let b = Block::open(&e.unwrap().path()).unwrap();
        n += b.meta().stats.num_samples;
    }
    assert_eq!(n as usize, total);
    assert!(db.snapshot("../evil", true).is_err());
    assert!(db.snapshot("snap1", true).is_err(), "existing snapshot is not overwritten");
}

#[test]
fn data_directory_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _db = open(dir.path(), opts(HOUR));
    let err = Db::open(dir.path(), opts(HOUR)).err().expect("second open fails");
    assert!(err.to_string().contains("locked"), "{err}");
}

#[test]
fn concurrent_appends_and_queries_see_whole_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), opts(2 * HOUR));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut app = db.appender();
                for t in 1..=300i64 {
                    for k in 0..25 {
                        app.append(&series("c", &[("w", &w.to_string()), ("k", &k.to_string())]), t, t as f64).unwrap();
                    }
                    app.commit().unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let db = db.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut checks = 0;
                while !stop.load(Ordering::Relaxed) {
                    for w in 0..4 {
                        let got = dump(&db, &[m("w", &w.to_string())], 0, i64::MAX);
                        if got.is_empty() {
                            continue;
                        }
                        let n = got[0].1.len();
                        assert_eq!(got.len(), 25, "all series of a commit appear together");
                        for (l, s) in &got {
                            assert_eq!(s.len(), n, "series {l} saw a partial commit");
                        }
                        checks += 1;
                    }
                }
                checks
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let checks: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(checks > 0);
    let all = dump(&db, &[m("__name__", "c")], 0, i64::MAX);
    assert_eq!(all.len(), 100);
    assert!(all.iter().all(|(_, s)| s.len() == 300));
}

#[test]
fn staleness_marker_round_trips_through_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), opts(HOUR));
    let s = series("st", &[]);
    let mut app = db.appender();
    app.append(&s, 1000, 1.0).unwrap();
    app.append(&s, 2000, STALE_NAN).unwrap();
    app.append(&s, 3000, f64::NAN).unwrap();
    app.append(&s, 4000, -0.0).unwrap();
    app.commit().unwrap();
    db.flush_head().unwrap();
    let got = dump(&db, &[m("__name__", "st")], 0, i64::MAX);
    assert!(is_stale_nan(got[0].1[1].v));
    assert!(got[0].1[2].v.is_nan() && !is_stale_nan(got[0].1[2].v));
    assert_eq!(got[0].1[3].v.to_bits(), (-0.0f64).to_bits());
}

#[test]
fn maintenance_thread_persists_blocks_on_its_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), opts(60_000));
    fill(&db, 1, 10_000, 3);
    assert!(db.blocks().is_empty());
    let handle = db.spawn_maintenance(std::time::Duration::from_millis(20));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db.blocks().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    drop(handle);
    assert!(!db.blocks().is_empty(), "the maintenance thread cut the head into blocks");
    assert!(db.metrics().compactions_total.get() > 0);
    assert_eq!(dump(&db, &[m("i", "1")], i64::MIN, i64::MAX)[0].1.len(), 360);
}

#[test]
fn every_select_of_one_querier_sees_the_same_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), opts(2 * HOUR));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut app = db.appender();
            let mut t = 0;
            while !stop.load(Ordering::Relaxed) {
                t += 1;
                for name in ["left", "right"] {
                    for k in 0..50 {
                        app.append(&series(name, &[("k", &k.to_string())]), t, t as f64).unwrap();
                    }
                }
                app.commit().unwrap();
            }
            t
        })
    };
    let mut checked = 0;
    for _ in 0..200 {
        let q = db.querier(0, i64::MAX).unwrap();
        let max_of = |name: &str| -> Vec<i64> {
            q.select(&[m("__name__", name)], None)
                .unwrap()
                .iter()
                .map(|s| {
                    let mut it = s.iter();
                    let mut last = -1;
                    while let Some(x) = it.next() {
                        last = x.t;
                    }
                    last
                })
                .collect()
        };
        let left = max_of("left");
        std::thread::sleep(std::time::Duration::from_micros(300));
        let right = max_of("right");
        if left.is_empty() && right.is_empty() {
            continue;
        }
        assert_eq!(left.len(), 50);
        assert_eq!(right.len(), 50);
        assert!(
            left.iter().chain(&right).all(|t| *t == left[0]),
            "one querier saw different commits: {left:?} vs {right:?}"
        );
        checked += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let commits = writer.join().unwrap();
    assert!(checked > 100 && commits > 10, "checked {checked} views over {commits} commits");
}
