//! The cold timestamp column: a type byte, the sample count, then one of three encodings chosen
//! per column as the smallest — regular (start + constant step), bucketed delta-of-delta, or
//! bit-packed residuals against a regular grid. Any `i64` sequence round-trips (wrapping arithmetic);
//! strictly increasing timestamps compress best.

use super::bits::{get_uvarint, get_varint, low_mask, put_uvarint, put_varint, uvarint_len, zigzag};
use super::bits::{BitReader, BitSink, BitWriter};
use super::{ChunkError, MAX_COLUMN_SAMPLES, TS_DOD_BUCKETS};

/// Type byte: start and one constant step.
pub(crate) const TS_REGULAR: u8 = 1;
/// Type byte: start, first delta, then bucketed delta-of-deltas.
pub(crate) const TS_DOD: u8 = 2;
/// Type byte: start, step, minimum residual, width, then bit-packed residuals against the grid.
pub(crate) const TS_GRID: u8 = 3;

#[inline]
fn grid_point(t0: i64, step: u64, i: usize) -> i64 {
    t0.wrapping_add((i as u64).wrapping_mul(step) as i64)
}

/// Smallest and largest residual of `ts[1..]` against the grid `ts[0] + i * step`.
fn residual_range(ts: &[i64], step: u64) -> (i64, i64) {
    let t0 = ts[0];
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    for (i, &t) in ts.iter().enumerate().skip(1) {
        let r = t.wrapping_sub(grid_point(t0, step, i));
        min = min.min(r);
        max = max.max(r);
    }
    (min, max)
}

/// Appends the encoded timestamp column for `ts` to `out`.
pub fn encode_timestamps(ts: &[i64], out: &mut Vec<u8>) {
    let n = ts.len();
    let (t0, t1) = match ts {
        [] | [_] | [_, _] => {
            out.push(TS_REGULAR);
            put_uvarint(out, n as u64);
            if let Some(&t0) = ts.first() {
                put_varint(out, t0);
            }
            if let [t0, t1] = ts {
                put_uvarint(out, t1.wrapping_sub(*t0) as u64);
            }
            return;
        }
        [t0, t1, ..] => (*t0, *t1),
    };
    let first_delta = t1.wrapping_sub(t0) as u64;
    let header = 1 + uvarint_len(n as u64) + uvarint_len(zigzag(t0));

    // Delta-of-delta size, and regularity, in one pass.
    let mut dod_bits = 0u64;
    let mut regular = true;
    let mut prev_delta = first_delta;
    for w in ts[1..].windows(2) {
        let delta = w[1].wrapping_sub(w[0]) as u64;
        let dod = delta.wrapping_sub(prev_delta) as i64;
        regular &= dod == 0;
        dod_bits += TS_DOD_BUCKETS.cost(dod);
        prev_delta = delta;
    }
    if regular {
        out.push(TS_REGULAR);
        put_uvarint(out, n as u64);
        put_varint(out, t0);
        put_uvarint(out, first_delta);
        return;
    }
    let dod_size = header + uvarint_len(first_delta) + dod_bits.div_ceil(8) as usize;

    // Grid residuals: start from the rounded mean step, then walk to the step with the smallest
    // residual range (the range is convex in the step when nothing wraps).
    let span = ts[n - 1].wrapping_sub(t0) as u64;
    let gaps = n as u64 - 1;
    let mut step = span / gaps + u64::from(span % gaps >= gaps.div_ceil(2));
    let (mut min, mut max) = residual_range(ts, step);
    for dir in [1u64, u64::MAX] {
        for _ in 0..16 {
            let cand = step.wrapping_add(dir);
            let (cmin, cmax) = residual_range(ts, cand);
            if (cmax.wrapping_sub(cmin) as u64) < (max.wrapping_sub(min) as u64) {
                (step, min, max) = (cand, cmin, cmax);
            } else {
                break;
            }
        }
    }
    let width = 64 - (max.wrapping_sub(min) as u64).leading_zeros();
    let grid_size = header
        + uvarint_len(step)
        + uvarint_len(zigzag(min))
        + 1
        + (width as u64 * (n as u64 - 1)).div_ceil(8) as usize;

    if grid_size < dod_size {
        out.push(TS_GRID);
        put_uvarint(out, n as u64);
        put_varint(out, t0);
        put_uvarint(out, step);
        put_varint(out, min);
        out.push(width as u8);
        let mut w = BitWriter::new(out);
        for (i, &t) in ts.iter().enumerate().skip(1) {
            let r = t.wrapping_sub(grid_point(t0, step, i));
            w.write(r.wrapping_sub(min) as u64, width);
        }
        w.finish();
    } else {
        out.push(TS_DOD);
        put_uvarint(out, n as u64);
        put_varint(out, t0);
        put_uvarint(out, first_delta);
        let mut w = BitWriter::new(out);
        let mut prev_delta = first_delta;
        for win in ts[1..].windows(2) {
            let delta = win[1].wrapping_sub(win[0]) as u64;
            TS_DOD_BUCKETS.write(&mut w, delta.wrapping_sub(prev_delta) as i64);
            prev_delta = delta;
        }
        w.finish();
    }
}

/// Decodes a timestamp column at the start of `buf`, appending to `out`; returns bytes consumed.
///
/// On error `out` is left as it was.
pub fn decode_timestamps(buf: &[u8], out: &mut Vec<i64>) -> Result<usize, ChunkError> {
    let base = out.len();
    let res = decode_timestamps_inner(buf, out);
    if res.is_err() {
        out.truncate(base);
    }
    res
}

fn decode_timestamps_inner(buf: &[u8], out: &mut Vec<i64>) -> Result<usize, ChunkError> {
    let kind = *buf.first().ok_or(ChunkError::Truncated)?;
    let mut pos = 1;
    if !matches!(kind, TS_REGULAR | TS_DOD | TS_GRID) {
        return Err(ChunkError::BadEncoding(kind));
    }
    let n64 = get_uvarint(buf, &mut pos)?;
    if n64 > MAX_COLUMN_SAMPLES {
        return Err(ChunkError::TooManySamples(n64));
    }
    let n = n64 as usize;
    if n == 0 {
        return Ok(pos);
    }
    let t0 = get_varint(buf, &mut pos)?;
    match kind {
        TS_REGULAR => {
            let step = if n > 1 { get_uvarint(buf, &mut pos)? } else { 0 };
            out.reserve(n);
            out.extend((0..n).map(|i| grid_point(t0, step, i)));
            Ok(pos)
        }
        TS_DOD => {
            if n == 1 {
                return Err(ChunkError::Corrupt("delta-of-delta timestamp column with one sample"));
            }
            let mut delta = get_uvarint(buf, &mut pos)?;
            let rest = &buf[pos..];
            // Every delta-of-delta takes at least one bit.
            if ((n - 2) as u64).div_ceil(8) > rest.len() as u64 {
                return Err(ChunkError::Truncated);
            }
            let mut r = BitReader::new(rest);
            out.reserve(n);
            let mut t = t0;
            out.push(t);
            t = t.wrapping_add(delta as i64);
            out.push(t);
            for _ in 2..n {
                let dod = TS_DOD_BUCKETS.read(&mut r)?;
                delta = delta.wrapping_add(dod as u64);
                t = t.wrapping_add(delta as i64);
                out.push(t);
            }
            Ok(pos + r.bytes_consumed())
        }
        _ => {
            if n == 1 {
                return Err(ChunkError::Corrupt("grid timestamp column with one sample"));
            }
            let step = get_uvarint(buf, &mut pos)?;
            let min = get_varint(buf, &mut pos)?;
            let width = *buf.get(pos).ok_or(ChunkError::Truncated)? as u32;
            pos += 1;
            if width > 64 {
                return Err(ChunkError::Corrupt("grid residual width above 64"));
            }
            let nbytes = (width as u64 * (n as u64 - 1)).div_ceil(8) as usize;
            let rest = buf.get(pos..pos + nbytes).ok_or(ChunkError::Truncated)?;
            let mut r = BitReader::new(rest);
            out.reserve(n);
            out.push(t0);
            for i in 1..n {
                let u = r.read(width)? & low_mask(width);
                out.push(grid_point(t0, step, i).wrapping_add(min.wrapping_add(u as i64)));
            }
            Ok(pos + nbytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(ts: &[i64]) -> Result<Vec<u8>, TestCaseError> {
        let mut buf = vec![0xAA];
        encode_timestamps(ts, &mut buf);
        let enc_len = buf.len() - 1;
        buf.extend_from_slice(&[1, 2, 3]);
        let mut out = vec![7];
        let used = decode_timestamps(&buf[1..], &mut out).unwrap();
        prop_assert_eq!(used, enc_len);
        prop_assert_eq!(&out[1..], ts);
        Ok(buf[1..=enc_len].to_vec())
    }

    proptest! {
        #[test]
        fn arbitrary_sequences(ts in proptest::collection::vec(any::<i64>(), 0..300)) {
            round_trip(&ts)?;
        }

        #[test]
        fn increasing_with_gaps(start in any::<i64>(), deltas in proptest::collection::vec(
            prop_oneof![1i64..10, 1i64..100_000, 1i64..(1 << 50), Just(5000)], 0..300)) {
            let mut ts = Vec::new();
            let mut t = start;
            for d in deltas {
                ts.push(t);
                t = match t.checked_add(d) { Some(x) => x, None => break };
            }
            round_trip(&ts)?;
        }

        #[test]
        fn jittered_scrapes(start in -1_000_000i64..2_000_000_000_000, step in prop_oneof![Just(5000i64), Just(15000), Just(60000)],
                            jitter in proptest::collection::vec(-25i64..=25, 0..800)) {
            let ts: Vec<i64> = jitter.iter().enumerate().map(|(i, j)| start + i as i64 * step + j).collect();
            let enc = round_trip(&ts)?;
            if ts.len() > 100 {
                prop_assert!(enc.len() * 8 <= ts.len() * 8, "{} bytes for {}", enc.len(), ts.len());
            }
        }

        #[test]
        fn decode_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            if let Ok(used) = decode_timestamps(&bytes, &mut out) {
                prop_assert!(used <= bytes.len());
            }
        }
    }

    #[test]
    fn regular_is_tiny() {
        let ts: Vec<i64> = (0..720).map(|i| 1_700_000_000_000 + i * 15_000).collect();
        let enc = round_trip(&ts).unwrap();
        assert_eq!(enc[0], TS_REGULAR);
        assert!(enc.len() <= 12);
    }

    #[test]
    fn truncation_is_an_error() {
        let ts: Vec<i64> = (0..120).map(|i| 1_700_000_000_000 + i * 5000 + (i * 7919 % 41) - 20).collect();
        for kind_bias in [0, 1] {
            let ts: Vec<i64> = if kind_bias == 0 {
                ts.clone()
            } else {
                ts.iter().enumerate().map(|(i, t)| t + if i == 60 { 1 << 30 } else { 0 }).collect()
            };
            let mut buf = Vec::new();
            encode_timestamps(&ts, &mut buf);
            for cut in 0..buf.len() {
                assert!(decode_timestamps(&buf[..cut], &mut Vec::new()).is_err(), "cut {cut}");
            }
        }
        assert_eq!(decode_timestamps(&[], &mut Vec::new()), Err(ChunkError::Truncated));
        assert_eq!(decode_timestamps(&[9, 0], &mut Vec::new()), Err(ChunkError::BadEncoding(9)));
        assert!(matches!(
            decode_timestamps(&[1, 0xff, 0xff, 0xff, 0x7f], &mut Vec::new()),
            Err(ChunkError::TooManySamples(_))
        ));
        assert!(decode_timestamps(&[TS_GRID, 3, 0, 1, 0, 65], &mut Vec::new()).is_err());
    }
}
