//! Per-second results while a run goes on: every finished request is counted in the slot of the second
//! it finished in; a ticker drains each second shortly after it ends, for the live view, `--push`, the
//! HTML report's charts and the baseline comparison.
//!
//! The slots are lock-free (atomic counters and a log-linear latency histogram with 32 buckets per
//! power of two, about 3% relative error), so workers on several threads record into them without
//! taking a lock. Eight slots form a ring: second `k` is drained at `k + 1.25 s`, long before its slot
//! is reused for second `k + 8`.

use std::ops::Range;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use serde_json::{json, Value};

/// Slots in the ring.
const RING: usize = 8;
/// Values below this are their own bucket (microseconds).
const LINEAR: u64 = 64;
/// Buckets per power of two above `LINEAR`.
const SUB: u64 = 32;
/// Number of buckets: 64 linear ones plus 32 per octave from 2^6 to 2^42 µs (about 50 days).
const BUCKETS: usize = (LINEAR + SUB * 36) as usize;

/// The bucket a latency in microseconds falls into.
fn bucket(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    let exp = 63 - u64::from(us.leading_zeros()); // >= 6
    let sub = (us >> (exp - 5)) - SUB; // 0..32
    ((LINEAR + (exp - 6) * SUB + sub) as usize).min(BUCKETS - 1)
}

/// The largest latency (µs) that falls into bucket `b`.
fn bucket_upper(b: usize) -> u64 {
    let b = b as u64;
    if b < LINEAR {
        return b;
    }
    let exp = (b - LINEAR) / SUB + 6;
    let sub = (b - LINEAR) % SUB + SUB;
    ((sub + 1) << (exp - 5)) - 1
}

/// One second's counters.
struct Slot {
    requests: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
    /// Responses with a latency (complete responses of any status).
    latencies: AtomicU64,
    sum_us: AtomicU64,
    max_us: AtomicU64,
    buckets: Box<[AtomicU32]>,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            latencies: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
            buckets: (0..BUCKETS).map(|_| AtomicU32::new(0)).collect(),
        }
    }
}

/// The per-second recorder shared by all workers of a run.
pub(crate) struct Timeline {
    slots: Vec<Slot>,
}

/// What one second of a run saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Second {
    /// Seconds since the start at the end of the interval (1, 2, ...; the last one may be fractional).
    pub t: f64,
    /// Length of the interval in seconds (1 except for the last).
    pub len: f64,
    /// Requests that finished in the interval.
    pub requests: u64,
    /// Of those, failed ones.
    pub errors: u64,
    /// Response bytes read.
    pub bytes: u64,
    /// Latency quantiles of the complete responses, in milliseconds (0 when there were none).
    pub p50: f64,
    /// 90th percentile (ms).
    pub p90: f64,
    /// 95th percentile (ms).
    pub p95: f64,
    /// 99th percentile (ms).
    pub p99: f64,
    /// Largest latency (ms).
    pub max: f64,
    /// Mean latency (ms).
    pub mean: f64,
    /// Complete responses (latencies recorded).
    pub responses: u64,
    /// What the model aimed at during the interval: VUs (closed) or arrivals per second (open).
    pub target: f64,
}

impl Second {
    /// Finished requests per second in the interval.
    pub fn rps(&self) -> f64 {
        if self.len > 0.0 {
            self.requests as f64 / self.len
        } else {
            0.0
        }
    }

    /// The interval as an element of the summary's `timeline` array.
    pub fn to_json(&self) -> Value {
        json!({
            "t": round3(self.t), "requests": self.requests, "errors": self.errors, "bytes": self.bytes,
            "rps": round3(self.rps()), "target": self.target,
            "latency_ms": {"p50": self.p50, "p90": self.p90, "p95": self.p95, "p99": self.p99, "max": self.max, "mean": round3(self.mean)},
        })
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Timeline {
    /// An empty ring.
    pub fn new() -> Timeline {
        Timeline { slots: (0..RING).map(|_| Slot::new()).collect() }
    }

    /// Counts a finished request in second `sec` (since the start); `latency_us` for complete responses.
    pub fn record(&self, sec: u64, latency_us: Option<u64>, error: bool, bytes: u64) {
        let s = &self.slots[(sec % RING as u64) as usize];
        s.requests.fetch_add(1, Ordering::Relaxed);
        if error {
            s.errors.fetch_add(1, Ordering::Relaxed);
        }
        if bytes > 0 {
            s.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        if let Some(us) = latency_us {
            s.latencies.fetch_add(1, Ordering::Relaxed);
            s.sum_us.fetch_add(us, Ordering::Relaxed);
            s.max_us.fetch_max(us, Ordering::Relaxed);
            s.buckets[bucket(us)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes the counts of seconds `secs` (one second, or the last full one and a short tail) out of
    /// their slots, leaving them empty for reuse; `end` is the interval's end in seconds since the start.
    pub fn drain(&self, secs: Range<u64>, end: f64, target: f64) -> Second {
        let first = secs.start;
        let (mut requests, mut errors, mut bytes, mut n, mut sum, mut max) = (0, 0, 0, 0, 0, 0);
        let mut counts = vec![0u64; BUCKETS];
        for sec in secs.take(RING) {
            let s = &self.slots[(sec % RING as u64) as usize];
            let take = |a: &AtomicU64| a.swap(0, Ordering::Relaxed);
            requests += take(&s.requests);
            errors += take(&s.errors);
            bytes += take(&s.bytes);
            n += take(&s.latencies);
            sum += take(&s.sum_us);
            max = max.max(take(&s.max_us));
            for (c, b) in counts.iter_mut().zip(s.buckets.iter()) {
                *c += u64::from(b.swap(0, Ordering::Relaxed));
            }
        }
        let total: u64 = counts.iter().sum();
        let quantile = |q: f64| -> f64 {
            if total == 0 {
                return 0.0;
            }
            let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
            let mut seen = 0;
            for (b, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return bucket_upper(b).min(max) as f64 / 1e3;
                }
            }
            max as f64 / 1e3
        };
        Second {
            t: end,
            len: (end - first as f64).max(0.0),
            requests,
            errors,
            bytes,
            p50: quantile(0.5),
            p90: quantile(0.9),
            p95: quantile(0.95),
            p99: quantile(0.99),
            max: max as f64 / 1e3,
            mean: if n > 0 { sum as f64 / n as f64 / 1e3 } else { 0.0 },
            responses: n,
            target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for us in [0u64, 1, 63, 64, 65, 100, 1000, 1023, 1024, 5000, 123_456, 3_600_000_000, u64::MAX / 4] {
            let b = bucket(us);
            assert!(b >= last, "{us}");
            last = b;
            let upper = bucket_upper(b);
            assert!(upper >= us.min(bucket_upper(BUCKETS - 1)), "{us} -> {b} -> {upper}");
            if us >= LINEAR && b < BUCKETS - 1 {
                assert!((upper - us) as f64 <= us as f64 / 32.0, "{us} upper {upper}");
                assert_eq!(bucket(upper), b);
                assert_eq!(bucket(upper + 1), b + 1);
            }
        }
    }

    #[test]
    fn drains_quantiles_and_resets() {
        let t = Timeline::new();
        for i in 1..=1000u64 {
            t.record(3, Some(i * 1000), i % 100 == 0, 10);
        }
        t.record(3, None, true, 0);
        let s = t.drain(3..4, 4.0, 50.0);
        assert_eq!((s.requests, s.errors, s.bytes, s.responses), (1001, 11, 10_000, 1000));
        assert!((s.p50 - 500.0).abs() / 500.0 < 0.04, "{}", s.p50);
        assert!((s.p99 - 990.0).abs() / 990.0 < 0.04, "{}", s.p99);
        assert_eq!(s.max, 1000.0);
        assert!((s.mean - 500.5).abs() < 0.01);
        assert_eq!((s.len, s.rps(), s.target), (1.0, 1001.0, 50.0));
        let again = t.drain(3..4, 4.0, 50.0);
        assert_eq!((again.requests, again.p99, again.max), (0, 0.0, 0.0));
        // Slot reuse: second 11 shares second 3's slot.
        t.record(11, Some(7), false, 0);
        assert_eq!(t.drain(11..12, 11.5, 1.0).len, 0.5);
        // A short tail joins the second before it.
        t.record(4, Some(2000), false, 0);
        t.record(5, Some(4000), true, 0);
        let s = t.drain(4..6, 5.05, 1.0);
        assert_eq!((s.requests, s.errors, s.max), (2, 1, 4.0));
        assert!((s.len - 1.05).abs() < 1e-9, "{}", s.len);
    }
}
