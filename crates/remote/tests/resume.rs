//! The sender follows a real TSDB's WAL, is stopped while the receiver fails, and resumes from its
//! saved progress after a restart: every sample arrives at least once, and what was acknowledged
//! before the stop is not sent again.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{start, wait_for, Receiver};
use vitals_model::{Appender, Labels, PromDuration};
use vitals_remote::send::follow::{load_progress, progress_path};
use vitals_remote::{FollowOptions, RemoteWriteConfig, RemoteWriteTask};
use vitals_tsdb::{Db, Options};

const SERIES: usize = 10;

fn write(db: &Db, from: i64, to: i64, base: i64) {
    for t in from..to {
        let mut app = db.appender();
        for i in 0..SERIES {
            let l = Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]);
            app.append(&l, base + t * 1000, t as f64).unwrap();
        }
        app.commit().unwrap();
    }
}

fn opts() -> FollowOptions {
    FollowOptions {
        poll_interval: Duration::from_millis(20),
        persist_interval: Duration::from_millis(50),
        flush_deadline: Duration::from_millis(300),
        ..Default::default()
    }
}

/// A data directory with an open TSDB, a time base a minute ahead, a loopback receiver and a
/// sender configuration pointing at it.
async fn setup() -> (tempfile::TempDir, Arc<Db>, i64, Arc<Receiver>, RemoteWriteConfig) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let base = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64 + 60_000;
    let r = Arc::new(Receiver::default());
    let url = start(r.clone()).await;
    (dir, db, base, r, RemoteWriteConfig::new(&url))
}

/// How often each (series, t) arrived.
fn counts(r: &Receiver) -> std::collections::BTreeMap<(String, i64), usize> {
    let mut m = std::collections::BTreeMap::new();
    for (k, v) in r.series.lock().iter() {
        for (t, _) in v {
            *m.entry((k.clone(), *t)).or_insert(0) += 1;
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_from_the_saved_position_after_a_restart() {
    let (dir, db, base, r, mut cfg) = setup().await;
    cfg.queue_config.max_samples_per_send = 50;
    cfg.queue_config.batch_send_deadline = PromDuration(Duration::from_millis(10));
    cfg.queue_config.min_backoff = PromDuration(Duration::from_millis(5));
    cfg.queue_config.max_backoff = PromDuration(Duration::from_millis(20));

    // Phase 1: 100 samples per series are sent and acknowledged.
    write(&db, 0, 100, base);
    let task = RemoteWriteTask::start(&cfg, dir.path(), opts()).unwrap();
    assert!(wait_for(Duration::from_secs(20), || r.total() == SERIES * 100).await, "phase 1: {}", r.total());
    // Then the receiver fails every request; 100 more samples per series cannot be delivered.
    r.script.lock().extend((0..1_000_000).map(|_| (503, None)));
    write(&db, 100, 200, base);
    tokio::time::sleep(Duration::from_millis(300)).await;
    task.stop().await.unwrap();
    assert_eq!(r.total(), SERIES * 100, "nothing of phase 2 was accepted");
    let saved = load_progress(&progress_path(dir.path(), &cfg)).unwrap().expect("progress saved");

    // Phase 2: the receiver recovers, more data is written, the sender restarts.
    r.script.lock().clear();
    write(&db, 200, 300, base);
    let task = RemoteWriteTask::start(&cfg, dir.path(), opts()).unwrap();
    let all = SERIES * 300;
    assert!(wait_for(Duration::from_secs(20), || counts(&r).len() == all).await, "got {} of {all}", counts(&r).len());
    tokio::time::sleep(Duration::from_millis(200)).await;
    task.stop().await.unwrap();

    let c = counts(&r);
    assert_eq!(c.len(), all, "every sample arrived at least once");
    let first_phase_resent = c.iter().filter(|((_, t), n)| **n > 1 && *t < base + 100_000).count();
    assert_eq!(first_phase_resent, 0, "acknowledged samples before the saved position are not resent");
    let later = load_progress(&progress_path(dir.path(), &cfg)).unwrap().unwrap();
    assert!((later.segment, later.offset) > (saved.segment, saved.offset));
    drop(db);
}

/// Series the head dropped (after its data moved to a block and the WAL was checkpointed) are
/// forgotten by the sender, so its series table follows the head instead of growing with churn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgets_series_the_head_dropped() {
    let (dir, db, base, r, mut cfg) = setup().await;
    cfg.queue_config.batch_send_deadline = PromDuration(Duration::from_millis(10));
    let task = RemoteWriteTask::start(&cfg, dir.path(), opts()).unwrap();
    write(&db, 0, 10, base);
    assert!(wait_for(Duration::from_secs(20), || r.total() == SERIES * 10).await, "{}", r.total());
    assert_eq!(task.queue().series_count(), SERIES);

    // Everything moves into a block; the head keeps no series; the WAL is checkpointed.
    db.flush_head().unwrap();
    assert_eq!(db.head().num_series(), 0);
    // New, different series arrive afterwards.
    let mut app = db.appender();
    for i in 0..3 {
        let l = Labels::from_pairs([("__name__", "fresh"), ("i", &i.to_string())]);
        app.append(&l, base + 3 * 3_600_000, 1.0).unwrap();
    }
    app.commit().unwrap();
    assert!(wait_for(Duration::from_secs(20), || r.total() == SERIES * 10 + 3).await, "{}", r.total());
    assert!(
        wait_for(Duration::from_secs(20), || task.queue().series_count() == 3).await,
        "the sender still knows {} series",
        task.queue().series_count()
    );
    task.stop().await.unwrap();
}
