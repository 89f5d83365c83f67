//! Codecs for the records the head writes to the WAL: series definitions, samples and tombstones.
//! Every record starts with a one-byte [`RecordType`]; the layouts are specified in
//! `docs/format/wal.md`. Decoding never panics: malformed input yields [`WalError::Decode`].

use vitals_model::{Label, Labels};

use super::WalError;

/// The first byte of an encoded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordType {
    /// A batch of series definitions ([`RefSeries`]).
    Series = 1,
    /// A batch of samples ([`RefSample`]).
    Samples = 2,
    /// A batch of deletion intervals ([`Tombstone`]).
    Tombstones = 3,
}

impl RecordType {
    /// The record type for a type byte, if it is a known one.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(RecordType::Series),
            2 => Some(RecordType::Samples),
            3 => Some(RecordType::Tombstones),
            _ => None,
        }
    }
}

/// A series definition: the reference later records use, and its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefSeries {
    /// The series reference.
    pub r: u64,
    /// The series' labels.
    pub labels: Labels,
}

/// One sample of the series with reference `r`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefSample {
    /// The series reference.
    pub r: u64,
    /// Timestamp in milliseconds.
    pub t: i64,
    /// Value (stored bit-exact, NaN payloads included).
    pub v: f64,
}

/// Samples of series `r` in `[mint, maxt]` are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tombstone {
    /// The series reference.
    pub r: u64,
    /// First deleted timestamp (inclusive).
    pub mint: i64,
    /// Last deleted timestamp (inclusive).
    pub maxt: i64,
}

/// A decoded WAL record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Series definitions.
    Series(Vec<RefSeries>),
    /// Samples.
    Samples(Vec<RefSample>),
    /// Deletion intervals.
    Tombstones(Vec<Tombstone>),
}

/// The type of an encoded record, without decoding it.
pub fn record_type(buf: &[u8]) -> Option<RecordType> {
    buf.first().and_then(|b| RecordType::from_byte(*b))
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Appends the encoding of `rec` to `out`.
pub fn encode(rec: &Record, out: &mut Vec<u8>) {
    match rec {
        Record::Series(s) => encode_series(s, out),
        Record::Samples(s) => encode_samples(s, out),
        Record::Tombstones(t) => encode_tombstones(t, out),
    }
}

/// Appends a series record to `out`.
pub fn encode_series(series: &[RefSeries], out: &mut Vec<u8>) {
    out.push(RecordType::Series as u8);
    for s in series {
        out.extend_from_slice(&s.r.to_le_bytes());
        put_uvarint(out, s.labels.len() as u64);
        for l in s.labels.iter() {
            put_str(out, l.name.as_str());
            put_str(out, l.value.as_str());
        }
    }
}

/// Appends a samples record to `out`: base reference and time, then zigzag varint deltas from them.
pub fn encode_samples(samples: &[RefSample], out: &mut Vec<u8>) {
    out.push(RecordType::Samples as u8);
    let Some(first) = samples.first() else { return };
    out.reserve(16 + samples.len() * 12);
    out.extend_from_slice(&first.r.to_le_bytes());
    out.extend_from_slice(&first.t.to_le_bytes());
    for s in samples {
        put_varint(out, s.r.wrapping_sub(first.r) as i64);
        put_varint(out, s.t.wrapping_sub(first.t));
        out.extend_from_slice(&s.v.to_bits().to_le_bytes());
    }
}

/// Appends a tombstones record to `out`.
pub fn encode_tombstones(tombstones: &[Tombstone], out: &mut Vec<u8>) {
    out.push(RecordType::Tombstones as u8);
    for t in tombstones {
        out.extend_from_slice(&t.r.to_le_bytes());
        put_varint(out, t.mint);
        put_varint(out, t.maxt);
    }
}

struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Dec<'a> {
    fn err(&self, reason: &'static str) -> WalError {
        WalError::Decode { offset: self.pos, reason }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WalError> {
        if n > self.remaining() {
            return Err(self.err(what));
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    fn u64_le(&mut self, what: &'static str) -> Result<u64, WalError> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn uvarint(&mut self, what: &'static str) -> Result<u64, WalError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else { return Err(self.err(what)) };
            if i == 9 && b > 1 {
                return Err(self.err("varint overflows 64 bits"));
            }
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.err("varint overflows 64 bits"))
    }

    fn varint(&mut self, what: &'static str) -> Result<i64, WalError> {
        let u = self.uvarint(what)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    fn str(&mut self, what: &'static str) -> Result<&'a str, WalError> {
        let n = self.uvarint(what)?;
        if n > self.remaining() as u64 {
            return Err(self.err(what));
        }
        let start = self.pos;
        let b = self.bytes(n as usize, what)?;
        std::str::from_utf8(b).map_err(|_| WalError::Decode { offset: start, reason: "label is not valid UTF-8" })
    }
}

fn header(buf: &[u8], want: RecordType) -> Result<Dec<'_>, WalError> {
    match buf.first() {
        None => Err(WalError::Decode { offset: 0, reason: "empty record" }),
        Some(&b) if b == want as u8 => Ok(Dec { buf, pos: 1 }),
        Some(_) => Err(WalError::Decode { offset: 0, reason: "unexpected record type" }),
    }
}

/// Decodes a record of any type.
pub fn decode(buf: &[u8]) -> Result<Record, WalError> {
    match record_type(buf) {
        Some(RecordType::Series) => {
            let mut v = Vec::new();
            decode_series(buf, &mut v)?;
            Ok(Record::Series(v))
        }
        Some(RecordType::Samples) => {
            let mut v = Vec::new();
            decode_samples(buf, &mut v)?;
            Ok(Record::Samples(v))
        }
        Some(RecordType::Tombstones) => {
            let mut v = Vec::new();
            decode_tombstones(buf, &mut v)?;
            Ok(Record::Tombstones(v))
        }
        None if buf.is_empty() => Err(WalError::Decode { offset: 0, reason: "empty record" }),
        None => Err(WalError::Decode { offset: 0, reason: "unknown record type" }),
    }
}

/// Decodes a series record, appending to `dst` (labels are interned).
pub fn decode_series(buf: &[u8], dst: &mut Vec<RefSeries>) -> Result<(), WalError> {
    let mut d = header(buf, RecordType::Series)?;
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    while !d.is_empty() {
        let r = d.u64_le("truncated series reference")?;
        let n = d.uvarint("truncated label count")?;
        // Each label takes at least two bytes, which bounds the count before allocating.
        if n > (d.remaining() / 2) as u64 {
            return Err(d.err("label count exceeds record size"));
        }
        pairs.clear();
        for _ in 0..n {
            let name = d.str("truncated label name")?;
            let value = d.str("truncated label value")?;
            pairs.push((name, value));
        }
        let canonical = pairs.windows(2).all(|w| w[0].0 < w[1].0) && pairs.iter().all(|p| !p.1.is_empty());
        let labels = if canonical {
            Labels::from_sorted(pairs.iter().map(|(n, v)| Label::new(n, v)).collect())
        } else {
            Labels::from_pairs(pairs.iter().copied())
        };
        dst.push(RefSeries { r, labels });
    }
    Ok(())
}

/// Decodes a samples record, appending to `dst`.
pub fn decode_samples(buf: &[u8], dst: &mut Vec<RefSample>) -> Result<(), WalError> {
    let mut d = header(buf, RecordType::Samples)?;
    if d.is_empty() {
        return Ok(());
    }
    let base_r = d.u64_le("truncated base reference")?;
    let base_t = d.u64_le("truncated base timestamp")? as i64;
    // Each sample takes at least ten bytes.
    dst.reserve(d.remaining() / 10);
    while !d.is_empty() {
        let dr = d.varint("truncated reference delta")?;
        let dt = d.varint("truncated timestamp delta")?;
        let v = f64::from_bits(d.u64_le("truncated sample value")?);
        dst.push(RefSample { r: base_r.wrapping_add(dr as u64), t: base_t.wrapping_add(dt), v });
    }
    Ok(())
}

/// Decodes a tombstones record, appending to `dst`.
pub fn decode_tombstones(buf: &[u8], dst: &mut Vec<Tombstone>) -> Result<(), WalError> {
    let mut d = header(buf, RecordType::Tombstones)?;
    while !d.is_empty() {
        let r = d.u64_le("truncated tombstone reference")?;
        let mint = d.varint("truncated tombstone mint")?;
        let maxt = d.varint("truncated tombstone maxt")?;
        dst.push(Tombstone { r, mint, maxt });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bits(s: &[RefSample]) -> Vec<(u64, i64, u64)> {
        s.iter().map(|s| (s.r, s.t, s.v.to_bits())).collect()
    }

    fn round_trip(rec: &Record) -> Record {
        let mut buf = vec![0xAA]; // encode appends
        encode(rec, &mut buf);
        assert_eq!(buf[0], 0xAA);
        decode(&buf[1..]).expect("decodes")
    }

    #[test]
    fn series_round_trip() {
        let rec = Record::Series(vec![
            RefSeries { r: 1, labels: Labels::from_pairs([("__name__", "up"), ("job", "api")]) },
            RefSeries { r: u64::MAX, labels: Labels::empty() },
            RefSeries { r: 0, labels: Labels::from_pairs([("ü", "ñ\u{1F600}"), ("a", &"x".repeat(300))]) },
        ]);
        let back = round_trip(&rec);
        assert_eq!(back, rec);
        let Record::Series(s) = back else { panic!("wrong type") };
        assert!(s[0].labels.as_slice()[0].name.ptr_eq(&vitals_model::intern("__name__")));
    }

    #[test]
    fn samples_round_trip_bit_exact() {
        let samples = vec![
            RefSample { r: 100, t: 1_700_000_000_000, v: 1.5 },
            RefSample { r: 3, t: 1_699_999_999_000, v: f64::NAN },
            RefSample { r: u64::MAX, t: i64::MIN, v: f64::from_bits(vitals_model::STALE_NAN_BITS) },
            RefSample { r: 0, t: i64::MAX, v: -0.0 },
            RefSample { r: 101, t: 1_700_000_015_000, v: f64::INFINITY },
        ];
        let mut buf = Vec::new();
        encode_samples(&samples, &mut buf);
        let Record::Samples(back) = decode(&buf).expect("decodes") else { panic!("wrong type") };
        assert_eq!(bits(&back), bits(&samples));
        assert_eq!(record_type(&buf), Some(RecordType::Samples));

        // Close refs and timestamps compress to about ten bytes a sample.
        let dense: Vec<RefSample> =
            (0..1000).map(|i| RefSample { r: 5000 + i, t: 1_700_000_000_000 + 15, v: i as f64 }).collect();
        let mut buf = Vec::new();
        encode_samples(&dense, &mut buf);
        assert!(buf.len() < 1 + 16 + 1000 * 12, "{}", buf.len());
        let mut back = Vec::new();
        decode_samples(&buf, &mut back).expect("decodes");
        assert_eq!(bits(&back), bits(&dense));
    }

    #[test]
    fn tombstones_and_empty_records_round_trip() {
        let rec = Record::Tombstones(vec![
            Tombstone { r: 7, mint: -5, maxt: 10 },
            Tombstone { r: u64::MAX, mint: i64::MIN, maxt: i64::MAX },
        ]);
        assert_eq!(round_trip(&rec), rec);
        for rec in [Record::Series(vec![]), Record::Samples(vec![]), Record::Tombstones(vec![])] {
            assert_eq!(round_trip(&rec), rec);
        }
    }

    #[test]
    fn malformed_records_are_errors() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[9, 1, 2]).is_err());
        assert!(decode(&[2, 1, 2, 3]).is_err());
        // Label count far larger than the record.
        let mut b = vec![1];
        b.extend_from_slice(&1u64.to_le_bytes());
        put_uvarint(&mut b, u64::MAX);
        assert!(decode(&b).is_err());
        // Invalid UTF-8 in a label.
        let mut b = vec![1];
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&[1, 1, 0xff, 1, b'x']);
        assert!(decode(&b).is_err());
        // Overlong varint.
        let mut b = vec![3];
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&[0xff; 11]);
        assert!(decode(&b).is_err());
        // Unsorted and duplicate labels are normalised, not trusted.
        let mut b = vec![1];
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&[3, 1, b'b', 1, b'1', 1, b'a', 1, b'2', 1, b'a', 0]);
        let Ok(Record::Series(s)) = decode(&b) else { panic!("decodes") };
        assert_eq!(s[0].labels, Labels::from_pairs([("b", "1")]));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn decode_never_panics_on_typed_garbage(typ in 1u8..=3, bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut b = vec![typ];
            b.extend_from_slice(&bytes);
            let _ = decode(&b);
        }

        #[test]
        fn samples_round_trip_any(s in proptest::collection::vec((any::<u64>(), any::<i64>(), any::<u64>()), 0..64)) {
            let samples: Vec<RefSample> = s.iter().map(|&(r, t, v)| RefSample { r, t, v: f64::from_bits(v) }).collect();
            let mut buf = Vec::new();
            encode_samples(&samples, &mut buf);
            let mut back = Vec::new();
            decode_samples(&buf, &mut back).expect("decodes");
            prop_assert_eq!(bits(&back), bits(&samples));
        }

        #[test]
        fn series_round_trip_any(
            s in proptest::collection::vec((any::<u64>(), proptest::collection::vec(("[a-z_]{1,8}", ".{0,6}"), 0..5)), 0..8)
        ) {
            let series: Vec<RefSeries> =
                s.iter().map(|(r, pairs)| RefSeries { r: *r, labels: Labels::from_pairs(pairs.clone()) }).collect();
            let rec = Record::Series(series);
            let mut buf = Vec::new();
            encode(&rec, &mut buf);
            prop_assert_eq!(decode(&buf).expect("decodes"), rec);
        }
    }
}
