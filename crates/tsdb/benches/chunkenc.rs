//! Benchmarks of the chunk encodings on 120-sample chunks of realistic data: head chunk append and
//! iteration, cold column encode and decode. Throughput is reported in samples.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vitals_tsdb::chunkenc::*;

const N: usize = 120;

/// Small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }
}

/// 5 s scrape timestamps with ±25 ms jitter.
fn timestamps(rng: &mut Rng) -> Vec<i64> {
    (0..N as i64).map(|i| 1_700_000_000_000 + i * 5000 + rng.range(-25, 25)).collect()
}

/// Named value series: counter, 2-decimal gauge, constant, sparse histogram bucket, full float.
fn series(rng: &mut Rng) -> Vec<(&'static str, Vec<f64>)> {
    let mut c = 1_000_000.0;
    let counter = (0..N).map(|_| {
        c += rng.range(30, 70) as f64;
        c
    });
    let counter: Vec<f64> = counter.collect();
    let mut g = 2_000i64;
    let gauge: Vec<f64> = (0..N)
        .map(|_| {
            g += rng.range(-50, 50);
            g as f64 / 100.0
        })
        .collect();
    let mut h = 500.0;
    let bucket: Vec<f64> = (0..N)
        .map(|_| {
            if rng.range(0, 19) == 0 {
                h += 1.0;
            }
            h
        })
        .collect();
    let mut x = 0.5;
    let float: Vec<f64> = (0..N)
        .map(|_| {
            x += (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            x
        })
        .collect();
    vec![("counter", counter), ("gauge", gauge), ("constant", vec![1.0; N]), ("bucket", bucket), ("float", float)]
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let ts = timestamps(&mut rng);
    let data = series(&mut rng);

    let mut g = c.benchmark_group("head");
    g.throughput(Throughput::Elements(N as u64));
    for (name, vs) in &data {
        g.bench_with_input(BenchmarkId::new("append", name), vs, |b, vs| {
            b.iter(|| {
                let mut h = HeadChunk::new();
                for (&t, &v) in ts.iter().zip(vs) {
                    h.append(t, v);
                }
                black_box(h)
            })
        });
        let mut h = HeadChunk::new();
        for (&t, &v) in ts.iter().zip(vs) {
            h.append(t, v);
        }
        g.bench_with_input(BenchmarkId::new("iterate", name), &h, |b, h| {
            b.iter(|| black_box(h).iter().fold(0.0, |acc, (t, v)| acc + t as f64 + v))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("cold");
    g.throughput(Throughput::Elements(N as u64));
    let mut buf = Vec::with_capacity(4096);
    g.bench_function("encode/timestamps", |b| {
        b.iter(|| {
            buf.clear();
            encode_timestamps(black_box(&ts), &mut buf);
            buf.len()
        })
    });
    let mut enc_ts = Vec::new();
    encode_timestamps(&ts, &mut enc_ts);
    let mut out_ts = Vec::with_capacity(N);
    g.bench_function("decode/timestamps", |b| {
        b.iter(|| {
            out_ts.clear();
            decode_timestamps(black_box(&enc_ts), &mut out_ts).unwrap()
        })
    });
    for (name, vs) in &data {
        g.bench_with_input(BenchmarkId::new("encode", name), vs, |b, vs| {
            b.iter(|| {
                buf.clear();
                encode_values(black_box(vs), &mut buf);
                buf.len()
            })
        });
        let mut enc = Vec::new();
        encode_values(vs, &mut enc);
        let mut out = Vec::with_capacity(N);
        g.bench_with_input(BenchmarkId::new("decode", name), &enc, |b, enc| {
            b.iter(|| {
                out.clear();
                decode_values(black_box(enc), N, &mut out).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
