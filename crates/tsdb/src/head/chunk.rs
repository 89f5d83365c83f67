//! Closed head chunks: when an open chunk fills up it is re-encoded with the cold column encodings,
//! which take a fraction of the Gorilla stream's memory (decimal gauges especially). Identical
//! timestamp columns (series scraped together) are shared between chunks.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};

use parking_lot::Mutex;
use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::chunkenc::{self, ChunkError, HeadChunk};

/// An immutable chunk of the head: a timestamp column followed by a value column.
#[derive(Debug)]
pub(crate) struct ClosedChunk {
    mint: i64,
    maxt: i64,
    last_v: f64,
    n: u32,
    ts: Arc<[u8]>,
    values: Box<[u8]>,
}

const TS_SHARDS: usize = 16;

/// Content hash → the columns with that hash.
type TsShard = FxHashMap<u64, Vec<Weak<[u8]>>>;

/// Timestamp columns of closed head chunks, shared by content; dead entries are purged as the
/// table is written to.
static TS_COLUMNS: LazyLock<Vec<Mutex<TsShard>>> =
    LazyLock::new(|| (0..TS_SHARDS).map(|_| Mutex::new(FxHashMap::default())).collect());
static TS_INSERTS: AtomicU64 = AtomicU64::new(0);

/// The shared copy of a timestamp column.
fn share_ts(bytes: &[u8]) -> Arc<[u8]> {
    let h = FxBuildHasher.hash_one(bytes);
    let mut shard = TS_COLUMNS[(h as usize) % TS_SHARDS].lock();
    let list = shard.entry(h).or_default();
    for w in list.iter() {
        if let Some(a) = w.upgrade() {
            if *a == *bytes {
                return a;
            }
        }
    }
    let a: Arc<[u8]> = Arc::from(bytes);
    list.retain(|w| w.strong_count() > 0);
    list.push(Arc::downgrade(&a));
    if TS_INSERTS.fetch_add(1, Ordering::Relaxed) % 8192 == 8191 {
        shard.retain(|_, l| {
            l.retain(|w| w.strong_count() > 0);
            !l.is_empty()
        });
    }
    a
}

impl ClosedChunk {
    /// Encodes samples (time-ordered, at least one).
    pub(crate) fn from_samples(samples: impl Iterator<Item = (i64, f64)>) -> Self {
        let (ts, vs): (Vec<i64>, Vec<f64>) = samples.unzip();
        let mut tcol = Vec::with_capacity(ts.len() + 16);
        chunkenc::encode_timestamps(&ts, &mut tcol);
        let mut vcol = Vec::with_capacity(ts.len() + 16);
        chunkenc::encode_values(&vs, &mut vcol);
        ClosedChunk {
            mint: ts.first().copied().unwrap_or(i64::MAX),
            maxt: ts.last().copied().unwrap_or(i64::MIN),
            last_v: vs.last().copied().unwrap_or(0.0),
            n: ts.len() as u32,
            ts: share_ts(&tcol),
            values: vcol.into_boxed_slice(),
        }
    }

    /// Re-encodes a full open chunk.
    pub(crate) fn from_head(c: &HeadChunk) -> Self {
        Self::from_samples(c.iter())
    }

    /// Rebuilds a chunk from its encoded bytes (as written by [`ClosedChunk::bytes`]), checking them.
    pub(crate) fn from_encoded(bytes: Vec<u8>, n: usize) -> Result<Self, ChunkError> {
        let mut ts = Vec::with_capacity(n);
        let mut vs = Vec::with_capacity(n);
        let used = chunkenc::decode_timestamps(&bytes, &mut ts)?;
        let rest = bytes.get(used..).ok_or(ChunkError::Truncated)?;
        let used_v = chunkenc::decode_values(rest, n, &mut vs)?;
        if ts.len() != n || vs.len() != n || used + used_v != bytes.len() || n == 0 {
            return Err(ChunkError::Corrupt("closed chunk sample count"));
        }
        if ts.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ChunkError::Corrupt("closed chunk timestamps not increasing"));
        }
        Ok(ClosedChunk {
            mint: ts[0],
            maxt: ts[n - 1],
            last_v: vs[n - 1],
            n: n as u32,
            ts: share_ts(&bytes[..used]),
            values: bytes[used..].into(),
        })
    }

    /// Length of the encoded form ([`ClosedChunk::write_to`]).
    pub(crate) fn encoded_len(&self) -> usize {
        self.ts.len() + self.values.len()
    }

    /// Appends the encoded form: the timestamp column, then the value column.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ts);
        out.extend_from_slice(&self.values);
    }

    /// Number of samples.
    pub(crate) fn len(&self) -> usize {
        self.n as usize
    }

    /// Oldest timestamp.
    pub(crate) fn min_time(&self) -> i64 {
        self.mint
    }

    /// Newest timestamp.
    pub(crate) fn max_time(&self) -> i64 {
        self.maxt
    }

    /// The newest sample.
    pub(crate) fn last(&self) -> (i64, f64) {
        (self.maxt, self.last_v)
    }

    /// Bytes of memory held.
    pub(crate) fn mem_size(&self) -> usize {
        // A shared timestamp column is split between the chunks that share it.
        std::mem::size_of::<Self>() + self.values.len() + self.ts.len() / Arc::strong_count(&self.ts)
    }

    /// Decodes every sample.
    pub(crate) fn samples(&self) -> Vec<(i64, f64)> {
        let n = self.n as usize;
        let mut ts = Vec::with_capacity(n);
        let mut vs = Vec::with_capacity(n);
        let ok = chunkenc::decode_timestamps(&self.ts, &mut ts)
            .and_then(|_| chunkenc::decode_values(&self.values, n, &mut vs));
        if let Err(e) = ok {
            // Only bytes this process encoded or checked on load reach here.
            tracing::error!(error = %e, "undecodable closed head chunk");
            return Vec::new();
        }
        ts.into_iter().zip(vs).collect()
    }
}

/// A chunk as a reader holds it: a closed one shared with the head, or a copy of the open one.
#[derive(Clone, Debug)]
pub(crate) enum ChunkRef {
    /// A closed chunk.
    Closed(Arc<ClosedChunk>),
    /// A copy of the open chunk taken at snapshot time.
    Open(Arc<HeadChunk>),
}

impl ChunkRef {
    /// Every sample of the chunk.
    pub(crate) fn samples(&self) -> Vec<(i64, f64)> {
        match self {
            ChunkRef::Closed(c) => c.samples(),
            ChunkRef::Open(c) => c.iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_chunks_round_trip_and_are_smaller() {
        let mut h = HeadChunk::new();
        for i in 0..120i64 {
            h.append(1_700_000_000_000 + i * 5000 + (i * 7919 % 41) - 20, 20.0 + ((i * 37) % 23) as f64 / 100.0);
        }
        let c = ClosedChunk::from_head(&h);
        assert_eq!(c.samples(), h.iter().collect::<Vec<_>>());
        assert!(c.encoded_len() * 2 < h.bytes().len(), "{} vs {}", c.encoded_len(), h.bytes().len());
        let mut bytes = Vec::new();
        c.write_to(&mut bytes);
        let again = ClosedChunk::from_encoded(bytes.clone(), c.len()).unwrap();
        assert_eq!(again.samples(), c.samples());
        assert_eq!(again.last(), c.last());
        assert!(Arc::ptr_eq(&again.ts, &c.ts), "identical timestamp columns are shared");
        assert!(ClosedChunk::from_encoded(bytes[..bytes.len() - 1].to_vec(), c.len()).is_err());
        assert!(ClosedChunk::from_encoded(bytes.clone(), c.len() + 1).is_err());
    }
}
