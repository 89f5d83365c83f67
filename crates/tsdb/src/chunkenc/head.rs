//! The head chunk: the open, in-memory chunk of one series, encoded as it is appended to.
//!
//! Layout (see `docs/format/chunks.md`): a single MSB-first bit stream. Sample 0 is a zigzag
//! varint timestamp and the raw 64 value bits; sample 1 a varint delta and an XOR value; later
//! samples a bucketed delta-of-delta and an XOR value. The sample count is kept outside the stream.

use super::bits::{low_mask, read_uvarint_bits, read_xor, write_uvarint_bits, write_xor, zigzag, BitReader, BitSink};
use super::bits::{unzigzag, NO_WINDOW};
use super::{ChunkError, TS_DOD_BUCKETS};

/// Byte capacity below which the buffer doubles; past it, it grows in small steps.
const DOUBLING_LIMIT: usize = 64;
/// Smallest growth step, in bytes, past [`DOUBLING_LIMIT`].
const GROW_STEP: usize = 32;

/// The open chunk of one series: a compact bit stream plus the state needed to append to it.
#[derive(Clone, Debug, Default)]
pub struct HeadChunk {
    buf: Vec<u8>,
    last_t: i64,
    last_delta: u64,
    last_v: u64,
    n: u32,
    /// Unused low bits in the last byte of `buf` (0..=7).
    free: u8,
    leading: u8,
    trailing: u8,
}

/// Bit sink writing straight into the head chunk's byte vector with lean growth.
struct HeadSink<'a> {
    buf: &'a mut Vec<u8>,
    free: &'a mut u8,
}

impl HeadSink<'_> {
    #[inline]
    fn reserve(&mut self, extra: usize) {
        let need = self.buf.len() + extra;
        let cap = self.buf.capacity();
        if need <= cap {
            return;
        }
        let grown = if cap < DOUBLING_LIMIT { (cap * 2).max(16) } else { cap + (cap / 8).max(GROW_STEP) };
        self.buf.reserve_exact(grown.max(need) - self.buf.len());
    }
}

impl BitSink for HeadSink<'_> {
    #[inline]
    fn write(&mut self, v: u64, n: u32) {
        let mut n = n;
        let v = v & low_mask(n);
        let free = *self.free as u32;
        if free > 0 {
            let take = free.min(n);
            let bits = ((v >> (n - take)) & low_mask(take)) << (free - take);
            if let Some(last) = self.buf.last_mut() {
                *last |= bits as u8;
            }
            *self.free -= take as u8;
            n -= take;
        }
        if n == 0 {
            return;
        }
        self.reserve(n.div_ceil(8) as usize);
        while n >= 8 {
            n -= 8;
            self.buf.push((v >> n) as u8);
        }
        if n > 0 {
            self.buf.push((v << (8 - n)) as u8);
            *self.free = (8 - n) as u8;
        }
    }
}

impl HeadChunk {
    /// An empty chunk (allocates nothing until the first append).
    pub fn new() -> Self {
        HeadChunk { leading: NO_WINDOW, ..Default::default() }
    }

    /// Appends a sample; `t` must be greater than every timestamp already in the chunk.
    #[inline]
    pub fn append(&mut self, t: i64, v: f64) {
        debug_assert!(self.n == 0 || t > self.last_t, "head chunk timestamps must strictly increase");
        let vb = v.to_bits();
        let mut s = HeadSink { buf: &mut self.buf, free: &mut self.free };
        match self.n {
            0 => {
                write_uvarint_bits(&mut s, zigzag(t));
                s.write(vb, 64);
                self.leading = NO_WINDOW;
            }
            1 => {
                let delta = t.wrapping_sub(self.last_t) as u64;
                write_uvarint_bits(&mut s, delta);
                write_xor(&mut s, self.last_v, vb, &mut self.leading, &mut self.trailing);
                self.last_delta = delta;
            }
            _ => {
                let delta = t.wrapping_sub(self.last_t) as u64;
                let dod = delta.wrapping_sub(self.last_delta) as i64;
                TS_DOD_BUCKETS.write(&mut s, dod);
                write_xor(&mut s, self.last_v, vb, &mut self.leading, &mut self.trailing);
                self.last_delta = delta;
            }
        }
        self.last_t = t;
        self.last_v = vb;
        self.n += 1;
    }

    /// Number of samples in the chunk.
    pub fn len(&self) -> usize {
        self.n as usize
    }

    /// True when the chunk holds no sample.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Timestamp of the first sample (meaningless when empty).
    pub fn min_time(&self) -> i64 {
        let mut r = BitReader::new(&self.buf);
        read_uvarint_bits(&mut r).map(unzigzag).unwrap_or(self.last_t)
    }

    /// Timestamp of the last sample (meaningless when empty).
    pub fn max_time(&self) -> i64 {
        self.last_t
    }

    /// The last sample, if any.
    pub fn last(&self) -> Option<(i64, f64)> {
        (self.n > 0).then(|| (self.last_t, f64::from_bits(self.last_v)))
    }

    /// Iterates the samples in time order.
    pub fn iter(&self) -> HeadChunkIter<'_> {
        HeadChunkIter {
            r: BitReader::new(&self.buf),
            remaining: self.n,
            i: 0,
            t: 0,
            delta: 0,
            v: 0,
            leading: NO_WINDOW,
            trailing: 0,
            err: None,
        }
    }

    /// Heap and inline bytes used by this chunk.
    pub fn mem_size(&self) -> usize {
        std::mem::size_of::<Self>() + self.buf.capacity()
    }

    /// The encoded bit stream so far (the last byte may be partially filled, zero-padded).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Rebuilds a chunk from [`HeadChunk::bytes`] and its sample count, validating by decoding.
    pub fn from_bytes(bytes: Vec<u8>, n: usize) -> Result<Self, ChunkError> {
        let n32 = u32::try_from(n).map_err(|_| ChunkError::Corrupt("sample count too large"))?;
        let mut it = HeadChunkIter {
            r: BitReader::new(&bytes),
            remaining: n32,
            i: 0,
            t: 0,
            delta: 0,
            v: 0,
            leading: NO_WINDOW,
            trailing: 0,
            err: None,
        };
        let mut prev: Option<i64> = None;
        for (t, _) in it.by_ref() {
            if prev.is_some_and(|p| t <= p) {
                return Err(ChunkError::Corrupt("head chunk timestamps not increasing"));
            }
            prev = Some(t);
        }
        if let Some(e) = it.err {
            return Err(e);
        }
        let bits = it.r.bits_consumed();
        if bytes.len() != bits.div_ceil(8) {
            return Err(ChunkError::Corrupt("trailing bytes after head chunk samples"));
        }
        let free = (bytes.len() * 8 - bits) as u8;
        if free > 0 && bytes.last().is_some_and(|&b| b as u64 & low_mask(free as u32) != 0) {
            return Err(ChunkError::Corrupt("non-zero padding bits in head chunk"));
        }
        Ok(HeadChunk {
            last_t: it.t,
            last_delta: it.delta,
            last_v: it.v,
            n: n32,
            free,
            leading: it.leading,
            trailing: it.trailing,
            buf: bytes,
        })
    }
}

/// Iterator over a [`HeadChunk`]'s samples, decoding the bit stream as it goes.
#[derive(Clone, Debug)]
pub struct HeadChunkIter<'a> {
    r: BitReader<'a>,
    remaining: u32,
    i: u32,
    t: i64,
    delta: u64,
    v: u64,
    leading: u8,
    trailing: u8,
    err: Option<ChunkError>,
}

impl HeadChunkIter<'_> {
    #[inline]
    fn step(&mut self) -> Result<(), ChunkError> {
        match self.i {
            0 => {
                self.t = unzigzag(read_uvarint_bits(&mut self.r)?);
                self.v = self.r.read(64)?;
            }
            1 => {
                self.delta = read_uvarint_bits(&mut self.r)?;
                self.t = self.t.wrapping_add(self.delta as i64);
                self.v = read_xor(&mut self.r, self.v, &mut self.leading, &mut self.trailing)?;
            }
            _ => {
                let dod = TS_DOD_BUCKETS.read(&mut self.r)?;
                self.delta = self.delta.wrapping_add(dod as u64);
                self.t = self.t.wrapping_add(self.delta as i64);
                self.v = read_xor(&mut self.r, self.v, &mut self.leading, &mut self.trailing)?;
            }
        }
        Ok(())
    }
}

impl Iterator for HeadChunkIter<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        if self.remaining == 0 {
            return None;
        }
        if let Err(e) = self.step() {
            self.err = Some(e);
            self.remaining = 0;
            return None;
        }
        self.i += 1;
        self.remaining -= 1;
        Some((self.t, f64::from_bits(self.v)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

    fn check(samples: &[(i64, u64)]) -> Result<(), TestCaseError> {
        let mut c = HeadChunk::new();
        for (i, &(t, v)) in samples.iter().enumerate() {
            c.append(t, f64::from_bits(v));
            prop_assert_eq!(c.len(), i + 1);
            prop_assert_eq!(c.last().map(|(t, v)| (t, v.to_bits())), Some((t, v)));
        }
        let got: Vec<(i64, u64)> = c.iter().map(|(t, v)| (t, v.to_bits())).collect();
        prop_assert_eq!(&got, &samples.to_vec());
        if let (Some(f), Some(l)) = (samples.first(), samples.last()) {
            prop_assert_eq!(c.min_time(), f.0);
            prop_assert_eq!(c.max_time(), l.0);
        }
        // Rebuild from bytes and keep appending: must match a chunk built in one go.
        let half = samples.len() / 2;
        let mut a = HeadChunk::new();
        for &(t, v) in &samples[..half] {
            a.append(t, f64::from_bits(v));
        }
        let mut b = HeadChunk::from_bytes(a.bytes().to_vec(), half).unwrap();
        for &(t, v) in &samples[half..] {
            b.append(t, f64::from_bits(v));
        }
        prop_assert_eq!(b.bytes(), c.bytes());
        let b2 = HeadChunk::from_bytes(c.bytes().to_vec(), c.len()).unwrap();
        prop_assert_eq!(b2.iter().count(), samples.len());
        Ok(())
    }

    fn increasing_ts(deltas: Vec<u64>, start: i64) -> Vec<i64> {
        let mut t = start;
        let mut out = Vec::with_capacity(deltas.len());
        for (i, d) in deltas.into_iter().enumerate() {
            if i > 0 {
                match t.checked_add(d as i64) {
                    Some(nt) if nt > t => t = nt,
                    _ => break,
                }
            }
            out.push(t);
        }
        out
    }

    fn any_delta() -> impl Strategy<Value = u64> {
        prop_oneof![1u64..100, 4_990u64..5_010, 1u64..(1 << 40), 1u64..(u64::MAX / 4)]
    }

    proptest! {
        #[test]
        fn round_trip_arbitrary(start in any::<i64>(), deltas in proptest::collection::vec(any_delta(), 0..300),
                                vals in proptest::collection::vec(any::<u64>(), 300)) {
            let ts = increasing_ts(deltas, start);
            let s: Vec<(i64, u64)> = ts.into_iter().zip(vals).collect();
            check(&s)?;
        }

        #[test]
        fn round_trip_realistic(start in -1_000_000_000i64..2_000_000_000_000, jitter in proptest::collection::vec(-25i64..=25, 1..400),
                                incs in proptest::collection::vec(0u32..100, 400), stale_at in any::<Option<proptest::sample::Index>>()) {
            let mut v = 0.0f64;
            let mut s: Vec<(i64, u64)> = jitter.iter().enumerate()
                .map(|(i, j)| { v += incs[i] as f64; (start + i as i64 * 5000 + j, v.to_bits()) }).collect();
            if let Some(ix) = stale_at {
                let i = ix.index(s.len());
                s[i].1 = STALE_NAN_BITS;
            }
            check(&s)?;
        }

        #[test]
        fn from_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), n in 0usize..40) {
            if let Ok(c) = HeadChunk::from_bytes(bytes, n) {
                prop_assert_eq!(c.iter().count(), n);
            }
        }
    }

    #[test]
    fn special_values() {
        let vals =
            [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, f64::from_bits(STALE_NAN_BITS), 1e-300, f64::MAX];
        let s: Vec<(i64, u64)> = vals.iter().enumerate().map(|(i, v)| (i as i64 * 1000 - 3000, v.to_bits())).collect();
        check(&s).unwrap();
        let s: Vec<(i64, u64)> = vec![(i64::MIN, 1), (-1, 2), (0, 3), (i64::MAX - 1, 4), (i64::MAX, 5)];
        check(&s).unwrap();
    }

    #[test]
    fn from_bytes_errors() {
        let mut c = HeadChunk::new();
        for i in 0..50 {
            c.append(i * 5000 + (i % 7), i as f64 * 1.5);
        }
        let b = c.bytes().to_vec();
        for cut in 0..b.len() {
            assert!(HeadChunk::from_bytes(b[..cut].to_vec(), 50).is_err(), "cut at {cut}");
        }
        assert_eq!(HeadChunk::from_bytes(vec![], 1).unwrap_err(), ChunkError::Truncated);
        assert!(HeadChunk::from_bytes(vec![0], 0).is_err());
        let mut extra = b.clone();
        extra.push(0);
        assert!(HeadChunk::from_bytes(extra, 50).is_err());
        assert!(HeadChunk::from_bytes(b, 50).is_ok());
        assert!(HeadChunk::new().is_empty());
        assert_eq!(HeadChunk::new().last(), None);
    }

    #[test]
    fn memory_is_lean() {
        let mut c = HeadChunk::new();
        for i in 0..720 {
            c.append(i * 5000, 42.0);
        }
        assert!(std::mem::size_of::<HeadChunk>() <= 56);
        let used = c.bytes().len();
        assert!(c.mem_size() - std::mem::size_of::<HeadChunk>() <= used + used / 8 + GROW_STEP, "{}", c.mem_size());
    }
}
