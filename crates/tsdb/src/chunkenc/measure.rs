//! Compression measurements on realistic synthetic series: bits per sample for the head chunk and
//! the cold columns. Run `cargo test --release bits_per_sample -- --nocapture` to see the table.

#![allow(clippy::print_stdout)]

use super::bits::Buckets;
use super::*;

/// Small deterministic PRNG (xorshift64*), enough for test data.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform integer in [lo, hi].
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }
    /// Roughly normal(0, 1) (Irwin–Hall with 12 uniforms).
    pub(crate) fn gauss(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }
}

/// Scrape timestamps: `step` ms interval with uniform ±`jitter` ms jitter.
pub(crate) fn jittered_ts(rng: &mut Rng, n: usize, step: i64, jitter: i64) -> Vec<i64> {
    let start = 1_700_000_000_000i64;
    (0..n as i64).map(|i| start + i * step + rng.range(-jitter, jitter)).collect()
}

/// The value kinds measured.
pub(crate) const KINDS: [&str; 5] = ["counter", "gauge-2dp", "constant", "histogram-bucket", "float"];

/// Synthetic values of one kind.
pub(crate) fn values(rng: &mut Rng, kind: &str, n: usize) -> Vec<f64> {
    match kind {
        "counter" => {
            let mut c = rng.range(0, 1 << 30) as f64;
            (0..n)
                .map(|_| {
                    c += (50.0 + 50f64.sqrt() * rng.gauss()).round().max(0.0);
                    c
                })
                .collect()
        }
        "gauge-2dp" => {
            let mut x = rng.range(-10_000, 100_000);
            (0..n)
                .map(|_| {
                    x += rng.range(-50, 50);
                    x as f64 / 100.0
                })
                .collect()
        }
        "constant" => vec![1.0; n],
        "histogram-bucket" => {
            let mut c = rng.range(0, 10_000) as f64;
            (0..n)
                .map(|_| {
                    if rng.unit() < 0.05 {
                        c += rng.range(1, 3) as f64;
                    }
                    c
                })
                .collect()
        }
        _ => {
            let mut x = 1000.0 * rng.unit();
            (0..n)
                .map(|_| {
                    x += rng.unit() - 0.5;
                    x
                })
                .collect()
        }
    }
}

/// Average over `reps` chunks of (head bits/sample, cold ts bits/sample, cold value bits/sample).
fn measure(n: usize, kind: &str, reps: usize) -> (f64, f64, f64) {
    let mut rng = Rng::new(n as u64 * 31 + kind.len() as u64);
    let (mut head, mut cts, mut cvs) = (0usize, 0usize, 0usize);
    for _ in 0..reps {
        let ts = jittered_ts(&mut rng, n, 5000, 25);
        let vs = values(&mut rng, kind, n);
        let mut c = HeadChunk::new();
        for (&t, &v) in ts.iter().zip(&vs) {
            c.append(t, v);
        }
        head += c.bytes().len();
        let mut buf = Vec::new();
        encode_timestamps(&ts, &mut buf);
        cts += buf.len();
        buf.clear();
        encode_values(&vs, &mut buf);
        cvs += buf.len();
        let mut out = Vec::new();
        decode_values(&buf, n, &mut out).unwrap();
        assert!(out.iter().zip(&vs).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
    let per = |bytes: usize| bytes as f64 * 8.0 / (reps * n) as f64;
    (per(head), per(cts), per(cvs))
}

#[test]
fn bits_per_sample() {
    println!("5 s interval, ±25 ms uniform jitter; bits/sample averaged over 50 chunks");
    println!("{:>4} {:<17} {:>8} {:>8} {:>8} {:>8}", "n", "values", "head", "cold-ts", "cold-val", "cold");
    for n in [120, 720] {
        for kind in KINDS {
            let (h, t, v) = measure(n, kind, 50);
            println!("{n:>4} {kind:<17} {h:>8.2} {t:>8.2} {v:>8.2} {:>8.2}", t + v);
            if kind != "float" {
                assert!(v < 8.0, "{kind}: cold values {v} bits/sample");
            }
        }
    }
}

/// Compares candidate delta-of-delta bucket tables on several jitter levels.
#[test]
fn dod_bucket_tables() {
    fn cost<const N: usize>(b: &Buckets<N>, ts: &[i64]) -> f64 {
        let mut bits = 0;
        for w in ts.windows(3) {
            bits += b.cost((w[2] - w[1]) - (w[1] - w[0]));
        }
        bits as f64 / (ts.len() - 2) as f64
    }
    let t4a = Buckets { widths: [0, 7, 10, 17, 64] };
    let t5a = Buckets { widths: [0, 7, 10, 13, 20, 64] };
    let t6 = TS_DOD_BUCKETS;
    let t6b = Buckets { widths: [0, 5, 8, 11, 20, 64] };
    let t6c = Buckets { widths: [0, 4, 7, 10, 20, 64] };
    println!("{:>8} {:>8} {:>8} {:>8} {:>8} {:>8}", "jitter", "07/10/17", "7/10/13", "chosen", "5/8/11", "4/7/10");
    for jitter in [0, 1, 3, 10, 25, 50, 100, 250] {
        let mut rng = Rng::new(jitter as u64);
        let ts = jittered_ts(&mut rng, 100_000, 15_000, jitter);
        println!(
            "{jitter:>8} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            cost(&t4a, &ts),
            cost(&t5a, &ts),
            cost(&t6, &ts),
            cost(&t6b, &ts),
            cost(&t6c, &ts)
        );
    }
}
