//! Decode + append of a remote_write request of 10k samples (100 series × 100 samples) into a real
//! TSDB in a temporary directory.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vitals_remote::prompb::{encode_snappy, Label, Sample, TimeSeries, WriteRequest};
use vitals_remote::{decode_write_request, ingest_write, IngestLimits};
use vitals_tsdb::{Db, Options};

fn request(round: i64) -> Vec<u8> {
    let timeseries = (0..100)
        .map(|s| TimeSeries {
            labels: vec![
                Label { name: "__name__".into(), value: "http_requests_total".into() },
                Label { name: "instance".into(), value: format!("host-{s}:9100") },
                Label { name: "job".into(), value: "api".into() },
            ],
            samples: (0..100).map(|i| Sample { value: i as f64, timestamp: (round * 100 + i) * 15_000 }).collect(),
            ..Default::default()
        })
        .collect();
    encode_snappy(&WriteRequest { timeseries, metadata: vec![] })
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let limits = IngestLimits::default();
    let mut g = c.benchmark_group("remote_write_receive");
    g.throughput(Throughput::Elements(10_000));
    let body = request(0);
    g.bench_function("decode_10k", |b| b.iter(|| decode_write_request(&body, &limits).unwrap()));
    let mut round = 0;
    // What `POST /api/v1/write` runs: decompress, read in place, validate, append, commit.
    g.bench_function("ingest_10k", |b| {
        b.iter_batched(
            || {
                round += 1;
                request(round)
            },
            |body| {
                let mut app = db.appender();
                ingest_write(&body, &mut app, &limits).unwrap()
            },
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
