//! `meta.json` of a block and block identifiers (ULIDs).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

/// Counts of what a block holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BlockStats {
    /// Samples.
    pub num_samples: u64,
    /// Series.
    pub num_series: u64,
    /// Chunks.
    pub num_chunks: u64,
}

/// How a block came to be.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BlockCompaction {
    /// 1 for a block cut from the head, one more per merge.
    pub level: u32,
    /// ULIDs of the level-1 blocks it was made from.
    pub sources: Vec<String>,
}

/// The contents of `meta.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BlockMeta {
    /// Identifier, also the directory name.
    pub ulid: String,
    /// Lowest timestamp that may be in the block (inclusive, ms).
    pub min_time: i64,
    /// Highest timestamp bound (exclusive, ms).
    pub max_time: i64,
    /// Counts.
    pub stats: BlockStats,
    /// Lineage.
    pub compaction: BlockCompaction,
    /// Format version (1).
    pub version: u32,
}

impl BlockMeta {
    /// Reads `dir/meta.json`.
    pub fn read(dir: &Path) -> Result<Self> {
        let p = dir.join("meta.json");
        let bytes = std::fs::read(&p).at(&p)?;
        let meta: BlockMeta = serde_json::from_slice(&bytes)
            .map_err(|e| Error::CorruptBlock { path: p.clone(), reason: e.to_string() })?;
        if meta.version != 1 {
            return Err(Error::CorruptBlock { path: p, reason: format!("unsupported version {}", meta.version) });
        }
        Ok(meta)
    }

    /// True when `[mint, maxt]` (inclusive) overlaps the block.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.min_time <= maxt && mint < self.max_time
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
static ULID_SEQ: AtomicU64 = AtomicU64::new(0);

/// A new ULID: 48 bits of milliseconds and 80 bits that differ per call and per process.
pub fn new_ulid() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let ms = now.as_millis() & ((1 << 48) - 1);
    let seq = ULID_SEQ.fetch_add(1, Ordering::Relaxed) as u128;
    let mut x: u64 = (now.subsec_nanos() as u64)
        ^ ((std::process::id() as u64) << 32)
        ^ seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) as u64;
    // splitmix64 to spread the bits.
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let rand: u128 = ((z as u128) << 16) | (seq & 0xffff);
    let v: u128 = (ms << 80) | (rand & ((1u128 << 80) - 1));
    (0..26).rev().map(|i| CROCKFORD[((v >> (i * 5)) & 31) as usize] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_are_unique_and_sortable_by_time() {
        let a = new_ulid();
        let b = new_ulid();
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert!(a[..10] <= b[..10]);
    }
}
