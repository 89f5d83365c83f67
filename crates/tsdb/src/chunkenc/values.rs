//! The cold value column: a type byte, then the cheapest lossless encoding for this column —
//! constant, integers, scaled decimals, Gorilla XOR or raw. Integers and decimals go through one
//! integer path (order-0/1/2 differences, frame-of-reference bit packing or prefix buckets) and may
//! carry a few exceptions (e.g. a staleness NaN) stored raw. The sample count is kept by the caller.

use super::bits::{get_uvarint, get_varint, low_mask, put_uvarint, put_varint, uvarint_len, xor_cost, zigzag};
use super::bits::{read_xor, write_xor, BitReader, BitSink, BitWriter, Buckets, NO_WINDOW};
use super::{ChunkError, MAX_COLUMN_SAMPLES};

/// Type byte: every value has the same bits, stored once (8 bytes little-endian).
pub(crate) const V_CONST: u8 = 1;
/// Type byte: integers, then the integer body.
pub(crate) const V_INT: u8 = 2;
/// Type byte: decimals — a scale byte `d`, then the integer body of `v * 10^d`.
pub(crate) const V_DEC: u8 = 3;
/// Type byte: Gorilla XOR bit stream.
pub(crate) const V_XOR: u8 = 4;
/// Type byte: raw 8-byte little-endian values.
pub(crate) const V_RAW: u8 = 5;

/// Largest decimal scale tried.
const MAX_SCALE: usize = 8;
/// Exactly representable powers of ten used to scale decimals.
const POW10: [f64; MAX_SCALE + 1] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];
/// Largest integer magnitude the integer path accepts (2^53).
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// Prefix buckets for integer residuals: `0`, `10`+4 bits, `110`+8, `1110`+16, `11110`+32, `11111`+64.
const INT_BUCKETS: Buckets<6> = Buckets { widths: [0, 4, 8, 16, 32, 64] };

/// Integer residual packing: frame of reference (min + fixed width).
const PACK_FOR: u8 = 0;
/// Integer residual packing: prefix buckets.
const PACK_BUCKETS: u8 = 1;

/// `v` as `n / 10^d` for an integer `n`, if that reproduces `v` bit for bit.
#[inline]
fn to_scaled_int(v: f64, d: usize) -> Option<i64> {
    let s = if d == 0 { v } else { (v * POW10[d]).round() };
    if s.is_nan() || s.abs() > MAX_EXACT {
        return None;
    }
    let n = s as i64;
    (from_scaled_int(n, d).to_bits() == v.to_bits()).then_some(n)
}

/// The value an integer-path integer stands for at scale `d`.
#[inline]
fn from_scaled_int(n: i64, d: usize) -> f64 {
    n as f64 / POW10[d]
}

/// Residual `i` (≥ `order`) of `xs` at the given difference order.
#[inline]
fn residual(xs: &[i64], order: usize, i: usize) -> i64 {
    match order {
        0 => xs[i],
        1 => xs[i].wrapping_sub(xs[i - 1]),
        _ => xs[i].wrapping_sub(xs[i - 1]).wrapping_sub(xs[i - 1].wrapping_sub(xs[i - 2])),
    }
}

/// The chosen integer body layout and its size in bytes (excluding exceptions).
#[derive(Clone, Copy, Debug)]
struct IntPlan {
    order: usize,
    packing: u8,
    min: i64,
    width: u32,
    size: usize,
}

/// Picks the smallest order/packing for `xs` (non-empty).
fn plan_ints(xs: &[i64]) -> IntPlan {
    let n = xs.len();
    let base = uvarint_len(zigzag(xs[0]));
    if n == 1 {
        return IntPlan { order: 0, packing: PACK_FOR, min: 0, width: 0, size: base };
    }
    let mut best: Option<IntPlan> = None;
    for order in 0..=2usize.min(n - 1) {
        let (mut min, mut max, mut bucket_bits) = (i64::MAX, i64::MIN, 0u64);
        for i in order.max(1)..n {
            let r = residual(xs, order, i);
            min = min.min(r);
            max = max.max(r);
            bucket_bits += INT_BUCKETS.cost(r);
        }
        let m = (n - order.max(1)) as u64;
        let head = base + 1 + if order == 2 { uvarint_len(zigzag(residual(xs, 1, 1))) } else { 0 };
        let (min, width) = if m == 0 { (0, 0) } else { (min, 64 - (max.wrapping_sub(min) as u64).leading_zeros()) };
        let for_size = head + uvarint_len(zigzag(min)) + 1 + (width as u64 * m).div_ceil(8) as usize;
        let bucket_size = head + bucket_bits.div_ceil(8) as usize;
        let cand = if bucket_size < for_size {
            IntPlan { order, packing: PACK_BUCKETS, min: 0, width: 0, size: bucket_size }
        } else {
            IntPlan { order, packing: PACK_FOR, min, width, size: for_size }
        };
        match best {
            Some(b) if b.size <= cand.size => {}
            _ => best = Some(cand),
        }
    }
    best.unwrap_or(IntPlan { order: 0, packing: PACK_FOR, min: 0, width: 0, size: base })
}

/// Integers for the integer path at scale `d`: `xs` filled (exceptions get the neighbouring
/// integer), `exc` lists exception indices. Fails when more than `limit` exceptions are needed.
fn scale_column(vs: &[f64], d: usize, limit: usize, xs: &mut Vec<i64>, exc: &mut Vec<u32>) -> bool {
    xs.clear();
    exc.clear();
    let mut last: Option<i64> = None;
    for (i, &v) in vs.iter().enumerate() {
        match to_scaled_int(v, d) {
            Some(x) => {
                if last.is_none() {
                    // Leading exceptions take the first integer so they add no residual.
                    xs.iter_mut().for_each(|p| *p = x);
                }
                xs.push(x);
                last = Some(x);
            }
            None => {
                if exc.len() >= limit {
                    return false;
                }
                exc.push(i as u32);
                xs.push(last.unwrap_or(0));
            }
        }
    }
    true
}

fn exceptions_size(exc: &[u32]) -> usize {
    let mut size = uvarint_len(exc.len() as u64);
    let mut prev = 0u32;
    for (k, &i) in exc.iter().enumerate() {
        let gap = if k == 0 { i } else { i - prev - 1 };
        size += uvarint_len(gap as u64) + 8;
        prev = i;
    }
    size
}

/// Appends the encoded value column for `vs` to `out` (the count is not stored).
pub fn encode_values(vs: &[f64], out: &mut Vec<u8>) {
    let n = vs.len();
    let Some(&first) = vs.first() else {
        out.push(V_RAW);
        return;
    };
    let fb = first.to_bits();
    let const_size = 9;
    if vs.iter().all(|v| v.to_bits() == fb) && n > 1 {
        out.push(V_CONST);
        out.extend_from_slice(&fb.to_le_bytes());
        return;
    }

    // Integer / decimal path: the smallest scale that works with few exceptions.
    let limit = n / 8 + 1;
    let mut xs = Vec::with_capacity(n);
    let mut exc = Vec::new();
    let mut int_choice: Option<(usize, IntPlan, usize)> = None;
    for d in 0..=MAX_SCALE {
        if scale_column(vs, d, limit, &mut xs, &mut exc) {
            let plan = plan_ints(&xs);
            let size = 1 + (d > 0) as usize + exceptions_size(&exc) + plan.size;
            int_choice = Some((d, plan, size));
            break;
        }
    }

    let mut xor_bits = 64u64;
    let (mut lead, mut trail, mut prev) = (NO_WINDOW, 0u8, fb);
    for v in &vs[1..] {
        let b = v.to_bits();
        xor_bits += xor_cost(prev, b, &mut lead, &mut trail);
        prev = b;
    }
    let xor_size = 1 + xor_bits.div_ceil(8) as usize;
    let raw_size = 1 + 8 * n;
    let int_size = int_choice.map_or(usize::MAX, |c| c.2);
    let all_equal = n == 1;

    if all_equal && const_size <= int_size {
        out.push(V_CONST);
        out.extend_from_slice(&fb.to_le_bytes());
    } else if int_size <= xor_size && int_size <= raw_size {
        if let Some((d, plan, _)) = int_choice {
            if d == 0 {
                out.push(V_INT);
            } else {
                out.push(V_DEC);
                out.push(d as u8);
            }
            write_int_body(vs, &xs, &exc, plan, out);
        }
    } else if xor_size <= raw_size {
        out.push(V_XOR);
        let mut w = BitWriter::new(out);
        w.write(fb, 64);
        let (mut lead, mut trail, mut prev) = (NO_WINDOW, 0u8, fb);
        for v in &vs[1..] {
            let b = v.to_bits();
            write_xor(&mut w, prev, b, &mut lead, &mut trail);
            prev = b;
        }
        w.finish();
    } else {
        out.push(V_RAW);
        for v in vs {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    }
}

fn write_int_body(vs: &[f64], xs: &[i64], exc: &[u32], plan: IntPlan, out: &mut Vec<u8>) {
    put_uvarint(out, exc.len() as u64);
    let mut prev = 0u32;
    for (k, &i) in exc.iter().enumerate() {
        let gap = if k == 0 { i } else { i - prev - 1 };
        put_uvarint(out, gap as u64);
        out.extend_from_slice(&vs[i as usize].to_bits().to_le_bytes());
        prev = i;
    }
    put_varint(out, xs[0]);
    let n = xs.len();
    if n == 1 {
        return;
    }
    out.push(plan.order as u8 | (plan.packing << 2));
    if plan.order == 2 {
        put_varint(out, residual(xs, 1, 1));
    }
    let start = plan.order.max(1);
    if plan.packing == PACK_FOR {
        put_varint(out, plan.min);
        out.push(plan.width as u8);
        let mut w = BitWriter::new(out);
        for i in start..n {
            w.write(residual(xs, plan.order, i).wrapping_sub(plan.min) as u64, plan.width);
        }
        w.finish();
    } else {
        let mut w = BitWriter::new(out);
        for i in start..n {
            INT_BUCKETS.write(&mut w, residual(xs, plan.order, i));
        }
        w.finish();
    }
}

fn read_u64_le(buf: &[u8], pos: &mut usize) -> Result<u64, ChunkError> {
    let b = buf.get(*pos..*pos + 8).ok_or(ChunkError::Truncated)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    *pos += 8;
    Ok(u64::from_le_bytes(a))
}

/// Decodes a value column of `n` samples at the start of `buf`, appending to `out`; returns bytes consumed.
///
/// On error `out` is left as it was.
pub fn decode_values(buf: &[u8], n: usize, out: &mut Vec<f64>) -> Result<usize, ChunkError> {
    let base = out.len();
    let res = decode_values_inner(buf, n, out);
    if res.is_err() {
        out.truncate(base);
    }
    res
}

fn decode_values_inner(buf: &[u8], n: usize, out: &mut Vec<f64>) -> Result<usize, ChunkError> {
    if n as u64 > MAX_COLUMN_SAMPLES {
        return Err(ChunkError::TooManySamples(n as u64));
    }
    let kind = *buf.first().ok_or(ChunkError::Truncated)?;
    let mut pos = 1;
    match kind {
        V_CONST => {
            let bits = read_u64_le(buf, &mut pos)?;
            out.extend(std::iter::repeat_n(f64::from_bits(bits), n));
            Ok(pos)
        }
        V_RAW => {
            let body = buf.get(1..1 + 8 * n).ok_or(ChunkError::Truncated)?;
            out.extend(body.chunks_exact(8).map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                f64::from_bits(u64::from_le_bytes(a))
            }));
            Ok(1 + 8 * n)
        }
        V_XOR => {
            if n == 0 {
                return Ok(1);
            }
            let rest = &buf[1..];
            if 8 + (n as u64 - 1).div_ceil(8) > rest.len() as u64 {
                return Err(ChunkError::Truncated);
            }
            let mut r = BitReader::new(rest);
            let mut v = r.read(64)?;
            out.reserve(n);
            out.push(f64::from_bits(v));
            let (mut lead, mut trail) = (NO_WINDOW, 0u8);
            for _ in 1..n {
                v = read_xor(&mut r, v, &mut lead, &mut trail)?;
                out.push(f64::from_bits(v));
            }
            Ok(1 + r.bytes_consumed())
        }
        V_INT | V_DEC => {
            let d = if kind == V_DEC {
                let d = *buf.get(1).ok_or(ChunkError::Truncated)? as usize;
                if d == 0 || d > MAX_SCALE {
                    return Err(ChunkError::Corrupt("decimal scale out of range"));
                }
                pos = 2;
                d
            } else {
                0
            };
            decode_int_body(buf, pos, n, d, out)
        }
        other => Err(ChunkError::BadEncoding(other)),
    }
}

/// Walks the exception list at `pos`; calls `f(index, bits)` for each; returns the position after it.
fn walk_exceptions(buf: &[u8], mut pos: usize, n: usize, mut f: impl FnMut(usize, u64)) -> Result<usize, ChunkError> {
    let count = get_uvarint(buf, &mut pos)?;
    if count > n as u64 {
        return Err(ChunkError::Corrupt("more exceptions than samples"));
    }
    let mut next = 0u64;
    for _ in 0..count {
        let gap = get_uvarint(buf, &mut pos)?;
        let idx = next
            .checked_add(gap)
            .filter(|&i| i < n as u64)
            .ok_or(ChunkError::Corrupt("exception index out of range"))?;
        let bits = read_u64_le(buf, &mut pos)?;
        f(idx as usize, bits);
        next = idx + 1;
    }
    Ok(pos)
}

fn decode_int_body(buf: &[u8], exc_pos: usize, n: usize, d: usize, out: &mut Vec<f64>) -> Result<usize, ChunkError> {
    if n == 0 {
        return Err(ChunkError::Corrupt("integer column with no samples"));
    }
    let mut pos = walk_exceptions(buf, exc_pos, n, |_, _| {})?;
    let base = out.len();
    let mut x = get_varint(buf, &mut pos)?;
    if n > 1 {
        let mode = *buf.get(pos).ok_or(ChunkError::Truncated)?;
        pos += 1;
        let order = (mode & 3) as usize;
        let packing = mode >> 2;
        if order == 3 || packing > PACK_BUCKETS || order >= n {
            return Err(ChunkError::Corrupt("bad integer mode byte"));
        }
        let mut delta = if order == 2 { get_varint(buf, &mut pos)? } else { 0 };
        let m = n - order.max(1);
        let rest;
        let (min, width) = if packing == PACK_FOR {
            let min = get_varint(buf, &mut pos)?;
            let width = *buf.get(pos).ok_or(ChunkError::Truncated)? as u32;
            pos += 1;
            if width > 64 {
                return Err(ChunkError::Corrupt("integer residual width above 64"));
            }
            let nbytes = (width as u64 * m as u64).div_ceil(8) as usize;
            rest = buf.get(pos..pos + nbytes).ok_or(ChunkError::Truncated)?;
            (min, width)
        } else {
            rest = &buf[pos..];
            if (m as u64).div_ceil(8) > rest.len() as u64 {
                return Err(ChunkError::Truncated);
            }
            (0, 0)
        };
        let mut r = BitReader::new(rest);
        out.reserve(n);
        out.push(from_scaled_int(x, d));
        if order == 2 {
            x = x.wrapping_add(delta);
            out.push(from_scaled_int(x, d));
        }
        for _ in 0..m {
            let res = if packing == PACK_FOR {
                min.wrapping_add((r.read(width)? & low_mask(width)) as i64)
            } else {
                INT_BUCKETS.read(&mut r)?
            };
            match order {
                0 => x = res,
                1 => x = x.wrapping_add(res),
                _ => {
                    delta = delta.wrapping_add(res);
                    x = x.wrapping_add(delta);
                }
            }
            out.push(from_scaled_int(x, d));
        }
        pos += r.bytes_consumed();
    } else {
        out.push(from_scaled_int(x, d));
    }
    walk_exceptions(buf, exc_pos, n, |i, bits| out[base + i] = f64::from_bits(bits))?;
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

    fn round_trip(vs: &[f64]) -> Result<Vec<u8>, TestCaseError> {
        let mut buf = vec![0x55];
        encode_values(vs, &mut buf);
        let enc_len = buf.len() - 1;
        buf.extend_from_slice(&[9, 9, 9]);
        let mut out = vec![1.0];
        let used = decode_values(&buf[1..], vs.len(), &mut out);
        prop_assert_eq!(used, Ok(enc_len), "encoding type {}", buf[1]);
        let want: Vec<u64> = vs.iter().map(|v| v.to_bits()).collect();
        let got: Vec<u64> = out[1..].iter().map(|v| v.to_bits()).collect();
        prop_assert_eq!(got, want, "encoding type {}", buf[1]);
        Ok(buf[1..=enc_len].to_vec())
    }

    fn special() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(f64::from_bits(STALE_NAN_BITS)),
            Just(f64::NAN),
            Just(-0.0),
            Just(0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(MAX_EXACT),
            Just(-MAX_EXACT),
            Just(MAX_EXACT * 2.0),
        ]
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            special(),
            (-1000i64..1000).prop_map(|x| x as f64),
            (-100_000i64..100_000, 0usize..=9).prop_map(|(x, d)| x as f64 / 10f64.powi(d as i32)),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_values(vs in proptest::collection::vec(value(), 0..300)) {
            round_trip(&vs)?;
        }

        #[test]
        fn arbitrary_bits(vs in proptest::collection::vec(any::<u64>().prop_map(f64::from_bits), 0..100)) {
            round_trip(&vs)?;
        }

        #[test]
        fn counters(start in 0u64..1 << 40, incs in proptest::collection::vec(0u64..200, 1..800), stale in any::<bool>()) {
            let mut c = start;
            let mut vs: Vec<f64> = incs.iter().map(|i| { c += i; c as f64 }).collect();
            if stale { vs.push(f64::from_bits(STALE_NAN_BITS)); }
            let enc = round_trip(&vs)?;
            if vs.len() > 8 {
                prop_assert!(enc[0] == V_INT || enc[0] == V_CONST, "type {}", enc[0]);
            }
        }

        #[test]
        fn gauges(start in -100_000i64..100_000, steps in proptest::collection::vec(-300i64..300, 1..800), d in 0i32..4) {
            let mut x = start;
            let vs: Vec<f64> = steps.iter().map(|s| { x += s; x as f64 / 10f64.powi(d) }).collect();
            let enc = round_trip(&vs)?;
            prop_assert!(enc.len() < vs.len() * 3 + 20);
        }

        #[test]
        fn sparse_histogram_buckets(start in 0u64..1_000_000, moves in proptest::collection::vec(prop_oneof![9 => Just(0u64), 1 => 1u64..5], 1..800)) {
            let mut c = start;
            let vs: Vec<f64> = moves.iter().map(|i| { c += i; c as f64 }).collect();
            round_trip(&vs)?;
        }

        #[test]
        fn decode_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80), n in 0usize..100) {
            let mut out = Vec::new();
            if let Ok(used) = decode_values(&bytes, n, &mut out) {
                prop_assert!(used <= bytes.len());
                prop_assert_eq!(out.len(), n);
            }
        }
    }

    #[test]
    fn chosen_encodings() {
        let enc = |vs: &[f64]| {
            let mut b = Vec::new();
            encode_values(vs, &mut b);
            b
        };
        assert_eq!(enc(&[3.5; 100])[0], V_CONST);
        assert_eq!(enc(&[f64::from_bits(STALE_NAN_BITS); 100])[0], V_CONST);
        let ints: Vec<f64> = (0..100).map(|i| (i * 37) as f64).collect();
        assert_eq!(enc(&ints)[0], V_INT);
        let decs: Vec<f64> = (0..100).map(|i| (i * 37) as f64 / 100.0).collect();
        assert_eq!(&enc(&decs)[..2], &[V_DEC, 2]);
        let floats: Vec<f64> = (0..100).map(|i| (i as f64 * 0.37).sin()).collect();
        assert_eq!(enc(&floats)[0], V_RAW, "random mantissas are cheaper raw");
        let pi = std::f64::consts::PI.to_bits();
        let floats: Vec<f64> = (0..100).map(|i| f64::from_bits(pi + i % 4)).collect();
        assert_eq!(enc(&floats)[0], V_XOR);
        let mut neg_zero = ints.clone();
        neg_zero[5] = -0.0;
        assert_eq!(enc(&neg_zero)[0], V_INT, "-0.0 is an exception");
        round_trip(&neg_zero).unwrap();
        assert_eq!(to_scaled_int(-0.0, 0), None);
        assert_eq!(to_scaled_int(0.1, 1), Some(1));
        assert_eq!(to_scaled_int(MAX_EXACT * 2.0, 0), None);
    }

    #[test]
    fn truncation_is_an_error() {
        let sets: Vec<Vec<f64>> = vec![
            vec![7.25; 50],
            (0..120).map(|i| (i * i) as f64).collect(),
            (0..120).map(|i| ((i * 7919) % 1000) as f64 / 100.0).collect(),
            (0..120).map(|i| if i % 13 == 0 { 1.0 } else { 0.0 } + i as f64).collect(),
            (0..120).map(|i| (i as f64).sqrt()).collect(),
            vec![f64::NAN, 1.0, -0.0],
        ];
        for vs in sets {
            let mut buf = Vec::new();
            encode_values(&vs, &mut buf);
            for cut in 0..buf.len() {
                assert!(decode_values(&buf[..cut], vs.len(), &mut Vec::new()).is_err(), "type {} cut {cut}", buf[0]);
            }
        }
        assert_eq!(decode_values(&[], 1, &mut Vec::new()), Err(ChunkError::Truncated));
        assert_eq!(decode_values(&[0], 1, &mut Vec::new()), Err(ChunkError::BadEncoding(0)));
        assert!(decode_values(&[V_CONST, 0, 0, 0, 0, 0, 0, 0, 0], usize::MAX, &mut Vec::new()).is_err());
        assert!(decode_values(&[V_DEC, 9, 0, 0], 1, &mut Vec::new()).is_err());
        assert!(decode_values(&[V_INT, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0], 1, &mut Vec::new()).is_err());
    }
}
