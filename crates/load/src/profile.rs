//! The load profile over time: a constant target, or stages that ramp linearly from one target to the
//! next (k6's `stages`). The target is VUs in the closed model and arrivals per second in the open one.

use std::time::Duration;

/// One stage: move linearly from the previous target to `target` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// How long the ramp takes.
    pub duration: Duration,
    /// The target at the end of the stage (VUs, or requests per second).
    pub target: f64,
}

/// A piece of the profile: from `t0` for `len` seconds, going linearly from `from` to `to`.
#[derive(Debug, Clone, Copy)]
struct Segment {
    t0: f64,
    len: f64,
    from: f64,
    to: f64,
    /// Arrivals (integral of the target) before `t0`.
    n0: f64,
}

impl Segment {
    fn slope(&self) -> f64 {
        if self.len > 0.0 {
            (self.to - self.from) / self.len
        } else {
            0.0
        }
    }

    fn count(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.len
    }
}

/// The target as a function of time since the start.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    segments: Vec<Segment>,
}

impl Profile {
    /// `start` held for `duration` when there are no stages; else `start` ramped through `stages`, the
    /// last target held until `duration` when the stages are shorter.
    pub fn new(start: f64, duration: Duration, stages: &[Stage]) -> Profile {
        let mut segments = Vec::new();
        let (mut t, mut n, mut from) = (0.0, 0.0, start);
        if stages.is_empty() {
            segments.push(Segment { t0: 0.0, len: duration.as_secs_f64(), from: start, to: start, n0: 0.0 });
        }
        for s in stages {
            let seg = Segment { t0: t, len: s.duration.as_secs_f64(), from, to: s.target, n0: n };
            t += seg.len;
            n += seg.count();
            from = s.target;
            segments.push(seg);
        }
        // Stages shorter than the run: hold the last target until the end.
        let end = duration.as_secs_f64();
        if !stages.is_empty() && end > t {
            segments.push(Segment { t0: t, len: end - t, from, to: from, n0: n });
        }
        Profile { segments }
    }

    /// The target at `t` seconds since the start (the last stage's target after the end).
    pub fn target_at(&self, t: f64) -> f64 {
        for s in &self.segments {
            if t < s.t0 + s.len {
                return s.from + s.slope() * (t - s.t0).max(0.0);
            }
        }
        self.segments.last().map_or(0.0, |s| s.to)
    }

    /// The highest target anywhere in the profile.
    pub fn max(&self) -> f64 {
        self.segments.iter().map(|s| s.from.max(s.to)).fold(0.0, f64::max)
    }

    /// When (seconds since the start) arrival `i` (0-based) is due in the open model, or `None` when
    /// the profile ends before it.
    pub fn arrival(&self, i: u64) -> Option<f64> {
        let i = i as f64;
        for s in &self.segments {
            let k = i - s.n0;
            if k >= s.count() {
                continue;
            }
            // Solve from·τ + slope·τ²/2 = k for τ in [0, len].
            let (a, b) = (s.slope() / 2.0, s.from);
            let tau = if a.abs() < 1e-12 {
                if b <= 0.0 {
                    continue;
                }
                k / b
            } else {
                let disc = (b * b + 4.0 * a * k).max(0.0);
                (-b + disc.sqrt()) / (2.0 * a)
            };
            return Some(s.t0 + tau.clamp(0.0, s.len));
        }
        None
    }
}

/// Parses `--stages`: comma-separated `DURATION:TARGET` pairs, e.g. `30s:100,1m:100,10s:0`.
pub fn parse_stages(s: &str) -> Result<Vec<Stage>, crate::ConfigError> {
    let err = || crate::ConfigError::InvalidStages(s.to_string());
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (d, t) = part.split_once(':').ok_or_else(err)?;
        let duration = crate::parse_duration(d).map_err(|_| err())?;
        let target: f64 = t.trim().trim_end_matches("/s").parse().map_err(|_| err())?;
        if !(target >= 0.0 && target.is_finite()) {
            return Err(err());
        }
        out.push(Stage { duration, target });
    }
    if out.is_empty() {
        return Err(err());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(secs: u64, target: f64) -> Stage {
        Stage { duration: Duration::from_secs(secs), target }
    }

    #[test]
    fn constant_profile() {
        let p = Profile::new(100.0, Duration::from_secs(2), &[]);
        assert_eq!((p.target_at(0.5), p.max()), (100.0, 100.0));
        assert_eq!(p.arrival(0), Some(0.0));
        assert!((p.arrival(150).unwrap() - 1.5).abs() < 1e-9);
        assert_eq!(p.arrival(200), None);
    }

    #[test]
    fn ramps_integrate_to_the_right_counts() {
        // 0 → 100/s over 10 s (500 arrivals), hold 100/s for 5 s (500), down to 0 over 10 s (500).
        let p = Profile::new(0.0, Duration::ZERO, &[st(10, 100.0), st(5, 100.0), st(10, 0.0)]);
        assert_eq!(p.target_at(5.0), 50.0);
        assert_eq!(p.target_at(12.0), 100.0);
        assert_eq!(p.target_at(20.0), 50.0);
        assert_eq!(p.max(), 100.0);
        let mut last = -1.0;
        let mut n = 0;
        while let Some(t) = p.arrival(n) {
            assert!(t >= last, "arrival {n} at {t} before {last}");
            last = t;
            n += 1;
        }
        assert_eq!(n, 1500);
        // Half of the first ramp's 500 arrivals come in its last 2.93 s (t² law): arrival 250 at √50.
        assert!((p.arrival(250).unwrap() - 50f64.sqrt()).abs() < 1e-9);
        assert!((p.arrival(750).unwrap() - 12.5).abs() < 1e-9);
    }

    #[test]
    fn parses_stages() {
        assert_eq!(parse_stages("30s:10, 1m:50,5s:0").unwrap(), vec![st(30, 10.0), st(60, 50.0), st(5, 0.0)]);
        assert_eq!(parse_stages("1s:200/s").unwrap(), vec![st(1, 200.0)]);
        for bad in ["", "30s", "x:1", "1s:-2", "1s:many"] {
            assert!(parse_stages(bad).is_err(), "{bad}");
        }
    }
}
