//! Bit-level plumbing shared by the head chunk and the cold columns: MSB-first bit writers and a
//! word-buffered bit reader, LEB128 varints, zigzag, prefix-bucket integer codes and the Gorilla
//! XOR value code.

use super::ChunkError;

/// Something bits can be appended to, most significant bit first.
pub(crate) trait BitSink {
    /// Appends the low `n` bits of `v` (`n` ≤ 64), most significant first.
    fn write(&mut self, v: u64, n: u32);
}

/// Mask of the low `n` bits (`n` ≤ 64).
#[inline]
pub(crate) fn low_mask(n: u32) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Bit writer that appends to a byte vector through a 64-bit accumulator; call [`BitWriter::finish`].
pub(crate) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl<'a> BitWriter<'a> {
    /// A writer appending to `out`.
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter { out, acc: 0, nbits: 0 }
    }

    /// Flushes the pending bits, zero-padding the last byte.
    pub(crate) fn finish(self) {
        let nbytes = self.nbits.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_be_bytes()[..nbytes]);
    }
}

impl BitSink for BitWriter<'_> {
    #[inline]
    fn write(&mut self, v: u64, n: u32) {
        if n == 0 {
            return;
        }
        let v = v & low_mask(n);
        let free = 64 - self.nbits;
        if n < free {
            self.acc |= v << (free - n);
            self.nbits += n;
        } else {
            let rest = n - free;
            self.acc |= v >> rest;
            self.out.extend_from_slice(&self.acc.to_be_bytes());
            self.acc = if rest == 0 { 0 } else { v << (64 - rest) };
            self.nbits = rest;
        }
    }
}

/// Bit reader over a byte slice, MSB first, buffering up to 63 bits in a word.
#[derive(Clone, Debug)]
pub(crate) struct BitReader<'a> {
    buf: &'a [u8],
    pos: usize,
    acc: u64,
    nbits: u32,
}

impl<'a> BitReader<'a> {
    /// A reader at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        BitReader { buf, pos: 0, acc: 0, nbits: 0 }
    }

    /// Number of bits consumed so far.
    pub(crate) fn bits_consumed(&self) -> usize {
        self.pos * 8 - self.nbits as usize
    }

    /// Number of whole bytes touched so far (consumed bits rounded up to a byte).
    pub(crate) fn bytes_consumed(&self) -> usize {
        self.bits_consumed().div_ceil(8)
    }

    #[inline]
    fn refill(&mut self) {
        if let Some(chunk) = self.buf.get(self.pos..self.pos + 8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            let w = u64::from_be_bytes(b);
            let take = (63 - self.nbits) >> 3;
            let top = w & !(u64::MAX >> (take * 8));
            self.acc |= top >> self.nbits;
            self.pos += take as usize;
            self.nbits += take * 8;
        } else {
            while self.nbits <= 56 {
                match self.buf.get(self.pos) {
                    Some(&b) => {
                        self.acc |= (b as u64) << (56 - self.nbits);
                        self.pos += 1;
                        self.nbits += 8;
                    }
                    None => break,
                }
            }
        }
    }

    /// Reads `n` bits (`n` ≤ 64) as the low bits of the result.
    #[inline]
    pub(crate) fn read(&mut self, n: u32) -> Result<u64, ChunkError> {
        if n == 0 {
            return Ok(0);
        }
        if n > 56 {
            let hi = self.read(n - 32)?;
            let lo = self.read(32)?;
            return Ok((hi << 32) | lo);
        }
        if self.nbits < n {
            self.refill();
            if self.nbits < n {
                return Err(ChunkError::Truncated);
            }
        }
        let v = self.acc >> (64 - n);
        self.acc <<= n;
        self.nbits -= n;
        Ok(v)
    }

    /// Counts leading one bits, at most `max` (≤ 8); consumes them and the terminating zero, if any.
    #[inline]
    pub(crate) fn read_unary(&mut self, max: u32) -> Result<u32, ChunkError> {
        if self.nbits <= max {
            self.refill();
        }
        let k = (!self.acc).leading_zeros().min(max);
        let used = if k < max { k + 1 } else { max };
        if used > self.nbits {
            return Err(ChunkError::Truncated);
        }
        self.acc = if used == 64 { 0 } else { self.acc << used };
        self.nbits -= used;
        Ok(k)
    }
}

/// Zigzag-maps a signed integer so small magnitudes become small unsigned numbers.
#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
#[inline]
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Number of bytes [`put_uvarint`] writes for `v`.
#[inline]
pub(crate) fn uvarint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Appends `v` as an unsigned LEB128 varint.
#[inline]
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` as a zigzag LEB128 varint.
#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v))
}

/// Reads an unsigned LEB128 varint at `*pos`, advancing it; at most 10 bytes, no overflow.
#[inline]
pub(crate) fn get_uvarint(buf: &[u8], pos: &mut usize) -> Result<u64, ChunkError> {
    let mut v = 0u64;
    let mut shift = 0u32;
    loop {
        let b = *buf.get(*pos).ok_or(ChunkError::Truncated)?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return Err(ChunkError::Corrupt("varint overflows 64 bits"));
        }
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return Ok(v);
        }
        shift += 7;
        if shift > 63 {
            return Err(ChunkError::Corrupt("varint overflows 64 bits"));
        }
    }
}

/// Reads a zigzag LEB128 varint at `*pos`, advancing it.
#[inline]
pub(crate) fn get_varint(buf: &[u8], pos: &mut usize) -> Result<i64, ChunkError> {
    get_uvarint(buf, pos).map(unzigzag)
}

/// Writes `v` as an unsigned LEB128 varint into a bit stream (8 bits per varint byte).
pub(crate) fn write_uvarint_bits<S: BitSink>(s: &mut S, mut v: u64) {
    while v >= 0x80 {
        s.write((v & 0x7f) | 0x80, 8);
        v >>= 7;
    }
    s.write(v, 8);
}

/// Reads a varint written by [`write_uvarint_bits`].
pub(crate) fn read_uvarint_bits(r: &mut BitReader<'_>) -> Result<u64, ChunkError> {
    let mut v = 0u64;
    let mut shift = 0u32;
    loop {
        let b = r.read(8)?;
        if shift == 63 && b > 1 {
            return Err(ChunkError::Corrupt("varint overflows 64 bits"));
        }
        v |= (b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
        shift += 7;
        if shift > 63 {
            return Err(ChunkError::Corrupt("varint overflows 64 bits"));
        }
    }
}

/// A prefix-bucket code for signed integers: class `k` is `k` one bits then a zero (the last class
/// has no zero), followed by the value in `widths[k]` bits two's complement (width 0 means the value 0).
pub(crate) struct Buckets<const N: usize> {
    /// Value width of each class; the last must be 64.
    pub(crate) widths: [u32; N],
}

#[inline]
fn fits_signed(v: i64, w: u32) -> bool {
    match w {
        0 => v == 0,
        64.. => true,
        _ => {
            let half = 1i64 << (w - 1);
            v >= -half && v < half
        }
    }
}

impl<const N: usize> Buckets<N> {
    #[inline]
    fn class(&self, v: i64) -> usize {
        let mut k = 0;
        while k < N - 1 && !fits_signed(v, self.widths[k]) {
            k += 1;
        }
        k
    }

    #[inline]
    fn prefix_len(k: usize) -> u32 {
        if k < N - 1 {
            k as u32 + 1
        } else {
            k as u32
        }
    }

    /// Bits needed to code `v`.
    #[inline]
    pub(crate) fn cost(&self, v: i64) -> u64 {
        let k = self.class(v);
        (Self::prefix_len(k) + self.widths[k]) as u64
    }

    /// Writes `v`.
    #[inline]
    pub(crate) fn write<S: BitSink>(&self, s: &mut S, v: i64) {
        let k = self.class(v);
        let plen = Self::prefix_len(k);
        let prefix = if k < N - 1 { ((1u64 << k) - 1) << 1 } else { (1u64 << k) - 1 };
        let w = self.widths[k];
        if plen + w <= 64 {
            s.write((prefix << w) | (v as u64 & low_mask(w)), plen + w);
        } else {
            s.write(prefix, plen);
            s.write(v as u64, w);
        }
    }

    /// Reads one value.
    #[inline]
    pub(crate) fn read(&self, r: &mut BitReader<'_>) -> Result<i64, ChunkError> {
        let k = r.read_unary(N as u32 - 1)? as usize;
        let w = self.widths[k];
        if w == 0 {
            return Ok(0);
        }
        let raw = r.read(w)?;
        let sh = 64 - w;
        Ok(((raw << sh) as i64) >> sh)
    }
}

/// Sentinel for "no XOR window yet" in `leading`.
pub(crate) const NO_WINDOW: u8 = 0xff;

/// Writes value bits `v` XORed against `prev` (Gorilla): `0` same; `10` + bits in the current
/// window; `11` + 5-bit leading zeros + 6-bit significant length (0 = 64) + bits.
#[inline]
pub(crate) fn write_xor<S: BitSink>(s: &mut S, prev: u64, v: u64, leading: &mut u8, trailing: &mut u8) {
    let x = v ^ prev;
    if x == 0 {
        s.write(0, 1);
        return;
    }
    let lz = x.leading_zeros().min(31);
    let tz = x.trailing_zeros();
    if *leading != NO_WINDOW && lz >= *leading as u32 && tz >= *trailing as u32 {
        let sig = 64 - *leading as u32 - *trailing as u32;
        s.write(0b10, 2);
        s.write(x >> *trailing, sig);
    } else {
        let sig = 64 - lz - tz;
        *leading = lz as u8;
        *trailing = tz as u8;
        s.write((0b11 << 11) | ((lz as u64) << 6) | (sig as u64 & 63), 13);
        s.write(x >> tz, sig);
    }
}

/// Bits [`write_xor`] would use, updating the window the same way.
#[inline]
pub(crate) fn xor_cost(prev: u64, v: u64, leading: &mut u8, trailing: &mut u8) -> u64 {
    let x = v ^ prev;
    if x == 0 {
        return 1;
    }
    let lz = x.leading_zeros().min(31);
    let tz = x.trailing_zeros();
    if *leading != NO_WINDOW && lz >= *leading as u32 && tz >= *trailing as u32 {
        2 + (64 - *leading as u32 - *trailing as u32) as u64
    } else {
        *leading = lz as u8;
        *trailing = tz as u8;
        13 + (64 - lz - tz) as u64
    }
}

/// Reads one value written by [`write_xor`], given the previous value bits and window.
#[inline]
pub(crate) fn read_xor(
    r: &mut BitReader<'_>,
    prev: u64,
    leading: &mut u8,
    trailing: &mut u8,
) -> Result<u64, ChunkError> {
    match r.read_unary(2)? {
        0 => Ok(prev),
        1 => {
            if *leading == NO_WINDOW {
                return Err(ChunkError::Corrupt("xor window reused before being set"));
            }
            let sig = 64 - *leading as u32 - *trailing as u32;
            let bits = r.read(sig)?;
            Ok(prev ^ (bits << *trailing))
        }
        _ => {
            let hdr = r.read(11)? as u32;
            let lz = hdr >> 6;
            let sig = match hdr & 63 {
                0 => 64,
                s => s,
            };
            if lz + sig > 64 {
                return Err(ChunkError::Corrupt("xor window exceeds 64 bits"));
            }
            let tz = 64 - lz - sig;
            *leading = lz as u8;
            *trailing = tz as u8;
            let bits = r.read(sig)?;
            Ok(prev ^ (bits << tz))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varint_edges() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX, u64::MAX / 2] {
            let mut out = Vec::new();
            put_uvarint(&mut out, v);
            assert_eq!(out.len(), uvarint_len(v));
            let mut pos = 0;
            assert_eq!(get_uvarint(&out, &mut pos), Ok(v));
            assert_eq!(pos, out.len());
            assert_eq!(get_uvarint(&out[..out.len() - 1], &mut 0), Err(ChunkError::Truncated));
        }
        assert!(get_uvarint(&[0xff; 11], &mut 0).is_err());
        assert!(get_uvarint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], &mut 0).is_err());
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    proptest! {
        #[test]
        fn bits_round_trip(items in proptest::collection::vec((any::<u64>(), 0u32..=64), 0..200)) {
            let mut out = Vec::new();
            let mut w = BitWriter::new(&mut out);
            for &(v, n) in &items {
                w.write(v, n);
            }
            w.finish();
            let total: u32 = items.iter().map(|x| x.1).sum();
            prop_assert_eq!(out.len(), total.div_ceil(8) as usize);
            let mut r = BitReader::new(&out);
            for &(v, n) in &items {
                prop_assert_eq!(r.read(n).unwrap(), v & low_mask(n));
            }
            prop_assert_eq!(r.bits_consumed(), total as usize);
        }

        #[test]
        fn buckets_round_trip(vs in proptest::collection::vec(any::<i64>(), 0..100), small in proptest::collection::vec(-600i64..600, 0..100)) {
            let b = Buckets { widths: [0, 4, 8, 16, 32, 64] };
            let mut out = Vec::new();
            let mut w = BitWriter::new(&mut out);
            let mut cost = 0;
            for &v in vs.iter().chain(&small) {
                b.write(&mut w, v);
                cost += b.cost(v);
            }
            w.finish();
            prop_assert_eq!(out.len() as u64, cost.div_ceil(8));
            let mut r = BitReader::new(&out);
            for &v in vs.iter().chain(&small) {
                prop_assert_eq!(b.read(&mut r).unwrap(), v);
            }
        }
    }
}
