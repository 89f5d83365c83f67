//! Benchmarks of the engine's hot paths: appending a scrape, selecting series, persisting a block.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use vitals_model::{Appender, Labels, MatchOp, Matcher, Queryable};
use vitals_tsdb::{Db, HeadOptions, Options, WalSync};

const SERIES: usize = 10_000;

fn labels(i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", format!("metric_{}", i % 100)),
        ("job", "bench".to_string()),
        ("instance", format!("host-{}:9100", i % 10)),
        ("handler", format!("/api/v{}/items", i / 100)),
        ("code", ["200", "404", "500"][i % 3].to_string()),
    ])
}

fn db(dir: &std::path::Path) -> Arc<Db> {
    let o = Options {
        head: HeadOptions::default(),
        wal_sync: WalSync::Interval(std::time::Duration::from_secs(1)),
        ..Options::default()
    };
    Db::open(dir, o).unwrap()
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let mut app = db.appender();
    let refs: Vec<u64> = (0..SERIES).map(|i| app.append(&labels(i), 0, 0.0).unwrap()).collect();
    app.commit().unwrap();
    let mut t = 0i64;
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(SERIES as u64));
    g.bench_function("scrape_of_10k_series_by_ref_with_commit", |b| {
        b.iter(|| {
            t += 15_000;
            for (i, r) in refs.iter().enumerate() {
                app.append_ref(*r, t, (t / 1000 + i as i64) as f64).unwrap();
            }
            app.commit().unwrap();
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("new_series_by_labels", |b| {
        let mut n = 0usize;
        b.iter_batched(
            || {
                n += 1;
                Labels::from_pairs([("__name__", "fresh"), ("n", &n.to_string())])
            },
            |l| {
                app.append(&l, 1, 1.0).unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    app.commit().unwrap();
    g.finish();
}

fn select(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let mut app = db.appender();
    for step in 0..120i64 {
        for i in 0..SERIES {
            app.append(&labels(i), step * 15_000, (step * i as i64) as f64).unwrap();
        }
        app.commit().unwrap();
    }
    let mut g = c.benchmark_group("select");
    let eq = [Matcher::new(MatchOp::Equal, "__name__", "metric_7").unwrap()];
    let re = [
        Matcher::new(MatchOp::Regex, "handler", "/api/v(1|2|3)/.*").unwrap(),
        Matcher::new(MatchOp::NotEqual, "code", "200").unwrap(),
    ];
    for source in ["head", "block"] {
        if source == "block" {
            db.flush_head().unwrap();
        }
        for (name, ms) in [("equal_100_series", &eq[..]), ("regex_and_not_equal", &re[..])] {
            g.bench_function(format!("{source}_{name}_and_read_samples"), |b| b.iter(|| read_all(&db, ms)));
        }
    }
    g.finish();
}

fn read_all(db: &Db, ms: &[Matcher]) -> usize {
    let q = db.querier(0, i64::MAX).unwrap();
    let mut n = 0;
    for s in q.select(ms, None).unwrap() {
        let mut it = s.iter();
        while it.next().is_some() {
            n += 1;
        }
    }
    n
}

criterion_group!(benches, append, select);
criterion_main!(benches);
