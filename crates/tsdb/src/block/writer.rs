//! Writes a block: chunk columns (identical timestamp columns stored once), the index and meta.json,
//! into a temporary directory that is renamed into place only when complete and synced.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use vitals_model::{Labels, Sample, Symbol};

use super::meta::{new_ulid, BlockCompaction, BlockMeta, BlockStats};
use super::{CHUNKS_MAGIC, INDEX_MAGIC, MAX_CHUNK_SAMPLES};
use crate::chunkenc;
use crate::encoding::{put_uvarint, put_varint};
use crate::error::{IoContext, Result};

/// Builds one block. Series must be added in label order.
pub(crate) struct BlockWriter {
    tmp: PathBuf,
    final_dir: PathBuf,
    meta: BlockMeta,
    symbols: FxHashMap<Symbol, u32>,
    symbol_list: Vec<Symbol>,
    chunks: BufWriter<File>,
    chunks_len: u64,
    columns: FxHashMap<u64, Vec<(u64, u32)>>,
    readback: Vec<u8>,
    series: Vec<u8>,
    series_offsets: Vec<u32>,
    postings: FxHashMap<(u32, u32), Vec<u32>>,
    col: Vec<u8>,
    ts_tmp: Vec<i64>,
    vs_tmp: Vec<f64>,
    last_labels: Option<Labels>,
}

fn fx(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(bytes)
}

impl BlockWriter {
    /// Starts a block for `[mint, maxt)` under `parent`; `all_labels` lists every series to come.
    pub(crate) fn new<'a>(
        parent: &Path,
        mint: i64,
        maxt: i64,
        compaction: BlockCompaction,
        all_labels: impl Iterator<Item = &'a Labels>,
    ) -> Result<Self> {
        let ulid = new_ulid();
        let mut compaction = compaction;
        if compaction.sources.is_empty() {
            // A block cut from the head is its own source.
            compaction.sources.push(ulid.clone());
        }
        let tmp = parent.join(format!("{ulid}.tmp"));
        std::fs::create_dir_all(&tmp).at(&tmp)?;
        let mut syms: Vec<Symbol> = Vec::new();
        for l in all_labels {
            for x in l.iter() {
                syms.push(x.name.clone());
                syms.push(x.value.clone());
            }
        }
        syms.sort();
        syms.dedup();
        let symbols = syms.iter().enumerate().map(|(i, s)| (s.clone(), i as u32)).collect();
        let cp = tmp.join("chunks");
        let mut chunks = BufWriter::with_capacity(
            1 << 20,
            File::options().read(true).write(true).create(true).truncate(true).open(&cp).at(&cp)?,
        );
        chunks.write_all(CHUNKS_MAGIC).at(&cp)?;
        let meta = BlockMeta {
            ulid: ulid.clone(),
            min_time: mint,
            max_time: maxt,
            stats: BlockStats::default(),
            compaction,
            version: 1,
        };
        Ok(BlockWriter {
            final_dir: parent.join(&ulid),
            tmp,
            meta,
            symbols,
            symbol_list: syms,
            chunks,
            chunks_len: CHUNKS_MAGIC.len() as u64,
            columns: FxHashMap::default(),
            readback: Vec::new(),
            series: Vec::new(),
            series_offsets: Vec::new(),
            postings: FxHashMap::default(),
            col: Vec::new(),
            ts_tmp: Vec::new(),
            vs_tmp: Vec::new(),
            last_labels: None,
        })
    }

    /// Writes the column in `self.col`, or returns the offset of an identical column written before.
    fn write_column(&mut self) -> Result<u64> {
        let h = fx(&self.col);
        let p = self.tmp.join("chunks");
        if let Some(list) = self.columns.get(&h).cloned() {
            for (off, len) in list {
                if len as usize == self.col.len() && self.written_equals(off)? {
                    return Ok(off);
                }
            }
        }
        let off = self.chunks_len;
        self.columns.entry(h).or_default().push((off, self.col.len() as u32));
        self.chunks.write_all(&self.col).at(&p)?;
        self.chunks_len += self.col.len() as u64;
        Ok(off)
    }

    /// True when the bytes already written at `off` equal `self.col` (read back from the write
    /// buffer or the file, so no copy of the columns is kept in memory).
    fn written_equals(&mut self, off: u64) -> Result<bool> {
        use std::os::unix::fs::FileExt;
        let p = self.tmp.join("chunks");
        let buffered = self.chunks.buffer().len() as u64;
        let buf_start = self.chunks_len - buffered;
        let len = self.col.len() as u64;
        if off >= buf_start {
            let b = &self.chunks.buffer()[(off - buf_start) as usize..];
            return Ok(b.len() >= self.col.len() && b[..self.col.len()] == self.col[..]);
        }
        if off + len > buf_start {
            self.chunks.flush().at(&p)?;
        }
        self.readback.resize(self.col.len(), 0);
        self.chunks.get_ref().read_exact_at(&mut self.readback, off).at(&p)?;
        Ok(self.readback == self.col)
    }

    /// Adds a series with its samples (time-ordered, inside the block's range). Empty ones are skipped.
    pub(crate) fn add_series(&mut self, labels: &Labels, samples: &[Sample]) -> Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        debug_assert!(self.last_labels.as_ref().is_none_or(|l| l < labels), "series out of order");
        self.last_labels = Some(labels.clone());
        let windows = split_windows(samples, self.meta.min_time, self.meta.max_time);
        let offset = self.series.len() as u32;
        self.series_offsets.push(offset);
        let mut entry = Vec::with_capacity(64);
        put_uvarint(&mut entry, labels.len() as u64);
        for l in labels.iter() {
            let n = self.symbols[&l.name];
            let v = self.symbols[&l.value];
            put_uvarint(&mut entry, n as u64);
            put_uvarint(&mut entry, v as u64);
            self.postings.entry((n, v)).or_default().push(offset);
        }
        put_uvarint(&mut entry, windows.len() as u64);
        let mut prev_max = self.meta.min_time;
        for w in windows {
            let part = &samples[w.0..w.1];
            self.ts_tmp.clear();
            self.ts_tmp.extend(part.iter().map(|s| s.t));
            self.vs_tmp.clear();
            self.vs_tmp.extend(part.iter().map(|s| s.v));
            self.col.clear();
            chunkenc::encode_timestamps(&self.ts_tmp, &mut self.col);
            let ts_off = self.write_column()?;
            self.col.clear();
            chunkenc::encode_values(&self.vs_tmp, &mut self.col);
            let v_off = self.write_column()?;
            let (cmin, cmax) = (part[0].t, part[part.len() - 1].t);
            put_varint(&mut entry, cmin - prev_max);
            put_uvarint(&mut entry, (cmax - cmin) as u64);
            put_uvarint(&mut entry, part.len() as u64);
            put_uvarint(&mut entry, ts_off);
            put_uvarint(&mut entry, v_off);
            prev_max = cmax;
            self.meta.stats.num_chunks += 1;
        }
        self.meta.stats.num_samples += samples.len() as u64;
        self.meta.stats.num_series += 1;
        self.series.extend_from_slice(&entry);
        Ok(())
    }

    /// Writes the index and meta, syncs, and moves the block into place. Returns its meta and dir.
    pub(crate) fn finish(mut self) -> Result<(BlockMeta, PathBuf)> {
        let cp = self.tmp.join("chunks");
        self.chunks.flush().at(&cp)?;
        self.chunks.get_ref().sync_all().at(&cp)?;

        let mut ix: Vec<u8> = Vec::with_capacity(self.series.len() * 2 + 1024);
        ix.extend_from_slice(INDEX_MAGIC);
        let symbols_off = ix.len() as u64;
        put_uvarint(&mut ix, self.symbol_list.len() as u64);
        for s in &self.symbol_list {
            put_uvarint(&mut ix, s.len() as u64);
            ix.extend_from_slice(s.as_bytes());
        }
        let series_off = ix.len() as u64;
        ix.extend_from_slice(&self.series);
        let postings_off = ix.len() as u64;
        let mut keys: Vec<(u32, u32)> = self.postings.keys().copied().collect();
        keys.sort_unstable();
        let mut table: Vec<(u32, u32, u64)> = Vec::with_capacity(keys.len());
        for k in keys {
            table.push((k.0, k.1, ix.len() as u64 - postings_off));
            write_postings(&mut ix, &self.postings[&k]);
        }
        let all_off = ix.len() as u64;
        write_postings(&mut ix, &self.series_offsets);
        let table_off = ix.len() as u64;
        put_uvarint(&mut ix, table.len() as u64);
        for (n, v, off) in table {
            put_uvarint(&mut ix, n as u64);
            put_uvarint(&mut ix, v as u64);
            put_uvarint(&mut ix, off);
        }
        for off in [symbols_off, series_off, postings_off, all_off, table_off] {
            ix.extend_from_slice(&off.to_le_bytes());
        }
        let crc = crc32c::crc32c(&ix);
        ix.extend_from_slice(&crc.to_le_bytes());
        write_synced(&self.tmp.join("index"), &ix)?;

        let meta_json = serde_json::to_vec_pretty(&self.meta).map_err(std::io::Error::other).at(&self.tmp)?;
        write_synced(&self.tmp.join("meta.json"), &meta_json)?;
        sync_dir(&self.tmp)?;
        std::fs::rename(&self.tmp, &self.final_dir).at(&self.final_dir)?;
        if let Some(parent) = self.final_dir.parent() {
            sync_dir(parent)?;
        }
        Ok((self.meta, self.final_dir))
    }
}

fn write_postings(out: &mut Vec<u8>, list: &[u32]) {
    put_uvarint(out, list.len() as u64);
    let mut prev = 0u32;
    for &x in list {
        put_uvarint(out, (x - prev) as u64);
        prev = x;
    }
}

/// Splits a series' samples into chunks over aligned windows: the block range is divided into
/// 2^k equal parts with the smallest k that keeps every part under `MAX_CHUNK_SAMPLES`, so series
/// scraped together get identical timestamp columns.
fn split_windows(samples: &[Sample], mint: i64, maxt: i64) -> Vec<(usize, usize)> {
    let span = (maxt - mint).max(1);
    let mut k = 0u32;
    while k < 10 {
        let parts = 1i64 << k;
        let width = (span + parts - 1) / parts;
        let mut ok = true;
        let mut i = 0;
        while i < samples.len() {
            let w = (samples[i].t - mint).div_euclid(width);
            let end = samples[i..].partition_point(|s| (s.t - mint).div_euclid(width) == w) + i;
            if end - i > MAX_CHUNK_SAMPLES {
                ok = false;
                break;
            }
            i = end;
        }
        if ok {
            break;
        }
        k += 1;
    }
    let parts = 1i64 << k;
    let width = (span + parts - 1) / parts;
    let mut out = Vec::new();
    let mut i = 0;
    while i < samples.len() {
        let w = (samples[i].t - mint).div_euclid(width);
        let mut end = samples[i..].partition_point(|s| (s.t - mint).div_euclid(width) == w) + i;
        // Past the deepest split, fall back to fixed-size pieces.
        end = end.min(i + MAX_CHUNK_SAMPLES * 4);
        out.push((i, end));
        i = end;
    }
    out
}

pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).at(path)?;
    f.write_all(bytes).at(path)?;
    f.sync_all().at(path)?;
    Ok(())
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).at(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_align_and_bound_chunk_size() {
        let samples: Vec<Sample> = (0..1440).map(|i| Sample::new(i * 5000, 1.0)).collect();
        let w = split_windows(&samples, 0, 7_200_000);
        assert!(w.iter().all(|(a, b)| b - a <= MAX_CHUNK_SAMPLES));
        assert_eq!(w.first().unwrap().0, 0);
        assert_eq!(w.last().unwrap().1, 1440);
        let few: Vec<Sample> = (0..10).map(|i| Sample::new(i * 60_000, 1.0)).collect();
        assert_eq!(split_windows(&few, 0, 7_200_000), vec![(0, 10)]);
    }
}
