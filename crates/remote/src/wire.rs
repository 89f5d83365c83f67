//! A borrowing reader of remote_write 1.0 `WriteRequest` protobuf bytes: label names and values
//! are `&str` slices of the request and samples are read in place, so receiving a request does not
//! allocate per label or per sample (what `prost`'s owned messages would).

use crate::RemoteError;

/// One `TimeSeries` message, borrowed from the request bytes.
#[derive(Debug, Clone, Copy)]
pub struct SeriesView<'a> {
    body: &'a [u8],
}

/// Counts of the parts of a request vitals does not store.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ignored {
    /// `MetricMetadata` entries.
    pub metadata: u64,
    /// Exemplars.
    pub exemplars: u64,
    /// Native histogram samples.
    pub histograms: u64,
}

fn err(msg: &str) -> RemoteError {
    RemoteError::Decode(format!("protobuf: {msg}"))
}

/// Reads a varint at `*pos`.
fn varint(b: &[u8], pos: &mut usize) -> Result<u64, RemoteError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos).ok_or_else(|| err("truncated varint"))?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(v);
        }
    }
    Err(err("varint too long"))
}

/// One field: its number, wire type and, for length-delimited fields, its bytes; for varint and
/// fixed fields, the value bits.
enum Field<'a> {
    Varint(u32, u64),
    Fixed64(u32, u64),
    Bytes(u32, &'a [u8]),
    Fixed32,
}

/// Iterates the fields of one message.
struct Fields<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(b: &'a [u8]) -> Self {
        Fields { b, pos: 0 }
    }

    fn next_field(&mut self) -> Result<Option<Field<'a>>, RemoteError> {
        if self.pos >= self.b.len() {
            return Ok(None);
        }
        let key = varint(self.b, &mut self.pos)?;
        let number = u32::try_from(key >> 3).map_err(|_| err("field number too large"))?;
        if number == 0 {
            return Err(err("field number 0"));
        }
        Ok(Some(match key & 7 {
            0 => Field::Varint(number, varint(self.b, &mut self.pos)?),
            1 => {
                let bytes = self.b.get(self.pos..self.pos + 8).ok_or_else(|| err("truncated fixed64"))?;
                self.pos += 8;
                Field::Fixed64(number, u64::from_le_bytes(bytes.try_into().map_err(|_| err("fixed64"))?))
            }
            2 => {
                let len = usize::try_from(varint(self.b, &mut self.pos)?).map_err(|_| err("length too large"))?;
                let end =
                    self.pos.checked_add(len).filter(|e| *e <= self.b.len()).ok_or_else(|| err("truncated field"))?;
                let bytes = &self.b[self.pos..end];
                self.pos = end;
                Field::Bytes(number, bytes)
            }
            5 => {
                self.pos =
                    self.pos.checked_add(4).filter(|e| *e <= self.b.len()).ok_or_else(|| err("truncated fixed32"))?;
                Field::Fixed32
            }
            t => return Err(err(&format!("unsupported wire type {t}"))),
        }))
    }
}

fn utf8(b: &[u8]) -> Result<&str, RemoteError> {
    std::str::from_utf8(b).map_err(|_| err("label is not valid UTF-8"))
}

/// Splits a `WriteRequest` into its series (in order), counting what is ignored.
pub fn series(req: &[u8]) -> Result<(Vec<SeriesView<'_>>, Ignored), RemoteError> {
    let mut out = Vec::new();
    let mut ignored = Ignored::default();
    let mut f = Fields::new(req);
    while let Some(field) = f.next_field()? {
        match field {
            Field::Bytes(1, body) => out.push(SeriesView { body }),
            Field::Bytes(3, _) => ignored.metadata += 1,
            Field::Varint(1 | 3, _) | Field::Fixed64(1 | 3, _) => return Err(err("wrong wire type")),
            _ => {}
        }
    }
    for s in &out {
        let (exemplars, histograms) = s.others()?;
        ignored.exemplars += exemplars;
        ignored.histograms += histograms;
    }
    Ok((out, ignored))
}

impl<'a> SeriesView<'a> {
    /// The label pairs, in the order sent.
    pub fn labels(&self, out: &mut Vec<(&'a str, &'a str)>) -> Result<(), RemoteError> {
        out.clear();
        let mut f = Fields::new(self.body);
        while let Some(field) = f.next_field()? {
            if let Field::Bytes(1, label) = field {
                let (mut name, mut value) = ("", "");
                let mut lf = Fields::new(label);
                while let Some(x) = lf.next_field()? {
                    match x {
                        Field::Bytes(1, n) => name = utf8(n)?,
                        Field::Bytes(2, v) => value = utf8(v)?,
                        _ => {}
                    }
                }
                out.push((name, value));
            }
        }
        Ok(())
    }

    /// Calls `f(timestamp_ms, value)` for every sample, in the order sent.
    pub fn for_each_sample(&self, mut f: impl FnMut(i64, f64) -> Result<(), RemoteError>) -> Result<(), RemoteError> {
        let mut fields = Fields::new(self.body);
        while let Some(field) = fields.next_field()? {
            if let Field::Bytes(2, sample) = field {
                let (mut t, mut v) = (0i64, 0f64);
                let mut sf = Fields::new(sample);
                while let Some(x) = sf.next_field()? {
                    match x {
                        Field::Fixed64(1, bits) => v = f64::from_bits(bits),
                        Field::Varint(2, raw) => t = raw as i64,
                        _ => {}
                    }
                }
                f(t, v)?;
            }
        }
        Ok(())
    }

    /// Whether the series carries any sample.
    pub fn has_samples(&self) -> Result<bool, RemoteError> {
        let mut fields = Fields::new(self.body);
        while let Some(field) = fields.next_field()? {
            if let Field::Bytes(2, _) = field {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// (exemplars, native histograms) in the series.
    fn others(&self) -> Result<(u64, u64), RemoteError> {
        let (mut e, mut h) = (0, 0);
        let mut fields = Fields::new(self.body);
        while let Some(field) = fields.next_field()? {
            match field {
                Field::Bytes(3, _) => e += 1,
                Field::Bytes(4, _) => h += 1,
                _ => {}
            }
        }
        Ok((e, h))
    }
}
