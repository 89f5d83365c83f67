//! Small byte-level helpers shared by the on-disk formats: varints, zigzag, a bounds-checked reader.

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded as a varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reads from a byte slice, never past its end.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// The input ended early or held an impossible value.
#[derive(Debug)]
pub(crate) struct Short;

impl<'a> Reader<'a> {
    /// A reader at `pos` of `buf`.
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }
    /// True at the end.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
    /// Next byte.
    pub(crate) fn u8(&mut self) -> Result<u8, Short> {
        let b = *self.buf.get(self.pos).ok_or(Short)?;
        self.pos += 1;
        Ok(b)
    }
    /// Next `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Short> {
        let end = self.pos.checked_add(n).ok_or(Short)?;
        let s = self.buf.get(self.pos..end).ok_or(Short)?;
        self.pos = end;
        Ok(s)
    }
    /// Next little-endian u64.
    pub(crate) fn u64(&mut self) -> Result<u64, Short> {
        Ok(u64::from_le_bytes(self.bytes(8)?.try_into().map_err(|_| Short)?))
    }
    /// Next unsigned varint.
    pub(crate) fn uvarint(&mut self) -> Result<u64, Short> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Short)
    }
    /// Next zigzag varint.
    pub(crate) fn varint(&mut self) -> Result<i64, Short> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    /// A varint used as a length or index, bounded by `max`.
    pub(crate) fn len(&mut self, max: usize) -> Result<usize, Short> {
        let v = self.uvarint()?;
        if v > max as u64 {
            return Err(Short);
        }
        Ok(v as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        let mut b = Vec::new();
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            put_uvarint(&mut b, v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            put_varint(&mut b, v);
        }
        let mut r = Reader::new(&b, 0);
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(r.uvarint().unwrap(), v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(r.varint().unwrap(), v);
        }
        assert!(r.is_empty());
        assert!(r.u8().is_err());
    }
}
