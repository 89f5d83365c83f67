//! Persisted, immutable blocks: memory-mapped chunk and index files, meta.json and tombstones.

pub(crate) mod meta;
pub(crate) mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use parking_lot::RwLock;
use rustc_hash::FxHashMap;
use vitals_model::{Label, Labels, Matcher, Sample, Symbol};

pub use meta::BlockMeta;

use crate::chunkenc;
use crate::encoding::{put_uvarint, put_varint, Reader};
use crate::error::{Error, IoContext, Result};
use crate::index::{postings_for_matchers, PostingsSource};

/// First bytes of a chunks file.
pub(crate) const CHUNKS_MAGIC: &[u8; 8] = b"VTCHNK01";
/// First bytes of an index file.
pub(crate) const INDEX_MAGIC: &[u8; 8] = b"VTINDX01";
/// First bytes of a tombstones file.
const TOMBSTONES_MAGIC: &[u8; 8] = b"VTTOMB01";
/// Upper bound of samples per persisted chunk (before the deepest window split).
pub(crate) const MAX_CHUNK_SAMPLES: usize = 2048;

/// Where one persisted chunk lives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkMeta {
    pub mint: i64,
    pub maxt: i64,
    pub n: u32,
    pub ts_off: u64,
    pub val_off: u64,
}

/// Byte accounting of one block (see [`Block::analyze`]).
#[derive(Debug, Default)]
pub struct BlockAnalysis {
    /// Samples in the block.
    pub samples: u64,
    /// Size of the index file.
    pub index_bytes: u64,
    /// Size of the chunks file.
    pub chunks_bytes: u64,
    /// Distinct timestamp columns' bytes by encoding type.
    pub ts_bytes_by_type: std::collections::BTreeMap<u8, u64>,
    /// Value columns' (bytes, samples) by encoding type.
    pub value_bytes_by_type: std::collections::BTreeMap<u8, (u64, u64)>,
    /// Value columns' (bytes, samples) by metric name.
    pub value_bytes_by_metric: std::collections::BTreeMap<String, (u64, u64)>,
}

/// Deleted time ranges (inclusive) per series of a block.
pub(crate) type Intervals = Vec<(i64, i64)>;

/// An open block.
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    index: Mmap,
    chunks: Mmap,
    symbols: Vec<Symbol>,
    series_start: usize,
    postings_start: usize,
    all_off: usize,
    table: FxHashMap<Symbol, Vec<(Symbol, u64)>>,
    tombstones: RwLock<FxHashMap<u32, Intervals>>,
    size: u64,
}

fn corrupt(dir: &Path, what: &str) -> Error {
    Error::CorruptBlock { path: dir.to_path_buf(), reason: what.to_string() }
}

fn map(path: &Path) -> Result<Mmap> {
    let f = std::fs::File::open(path).at(path)?;
    // SAFETY: block files are immutable once renamed into place; vitals never writes them again
    // and deletes them only after readers drop their handles (the mapping stays valid anyway).
    unsafe { Mmap::map(&f) }.at(path)
}

impl Block {
    /// Opens the block in `dir`, checking the index checksum.
    pub fn open(dir: &Path) -> Result<Arc<Block>> {
        let meta = BlockMeta::read(dir)?;
        let index = map(&dir.join("index"))?;
        let chunks = map(&dir.join("chunks"))?;
        if chunks.len() < CHUNKS_MAGIC.len() || &chunks[..CHUNKS_MAGIC.len()] != CHUNKS_MAGIC {
            return Err(corrupt(dir, "chunks: bad magic"));
        }
        let n = index.len();
        if n < INDEX_MAGIC.len() + 44 || &index[..INDEX_MAGIC.len()] != INDEX_MAGIC {
            return Err(corrupt(dir, "index: bad magic or too short"));
        }
        let crc = u32::from_le_bytes(index[n - 4..].try_into().map_err(|_| corrupt(dir, "index"))?);
        if crc32c::crc32c(&index[..n - 4]) != crc {
            return Err(corrupt(dir, "index: checksum mismatch"));
        }
        let mut toc = Reader::new(&index, n - 44);
        let mut offs = [0usize; 5];
        for o in offs.iter_mut() {
            *o = toc.u64().map_err(|_| corrupt(dir, "index: toc"))? as usize;
            if *o > n - 44 {
                return Err(corrupt(dir, "index: toc offset out of range"));
            }
        }
        let [symbols_off, series_off, postings_off, all_off, table_off] = offs;
        let bad = |_| corrupt(dir, "index: truncated section");
        let mut r = Reader::new(&index, symbols_off);
        let count = r.len(n).map_err(bad)?;
        let mut symbols = Vec::with_capacity(count);
        for _ in 0..count {
            let len = r.len(n).map_err(bad)?;
            let s =
                std::str::from_utf8(r.bytes(len).map_err(bad)?).map_err(|_| corrupt(dir, "index: symbol not UTF-8"))?;
            symbols.push(vitals_model::intern(s));
        }
        let mut r = Reader::new(&index, table_off);
        let count = r.len(n).map_err(bad)?;
        let mut table: FxHashMap<Symbol, Vec<(Symbol, u64)>> = FxHashMap::default();
        for _ in 0..count {
            let name = symbols.get(r.len(n).map_err(bad)?).ok_or_else(|| corrupt(dir, "index: symbol ref"))?;
            let value = symbols.get(r.len(n).map_err(bad)?).ok_or_else(|| corrupt(dir, "index: symbol ref"))?;
            let off = r.uvarint().map_err(bad)?;
            table.entry(name.clone()).or_default().push((value.clone(), off));
        }
        let tombstones = read_tombstones(dir)?;
        let size = dir_size(dir);
        Ok(Arc::new(Block {
            dir: dir.to_path_buf(),
            meta,
            index,
            chunks,
            symbols,
            series_start: series_off,
            postings_start: postings_off,
            all_off,
            table,
            tombstones: RwLock::new(tombstones),
            size,
        }))
    }

    /// The block's meta.json.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// The block's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes on disk.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn read_postings(&self, off: usize) -> Vec<u64> {
        let mut r = Reader::new(&self.index, off);
        let Ok(n) = r.len(self.index.len()) else { return Vec::new() };
        let mut out = Vec::with_capacity(n);
        let mut prev = 0u64;
        for _ in 0..n {
            let Ok(d) = r.uvarint() else { break };
            prev += d;
            out.push(prev);
        }
        out
    }

    /// Labels and chunk metas of the series at `r` (an offset into the series section).
    pub(crate) fn series(&self, r: u64) -> Result<(Labels, Vec<ChunkMeta>)> {
        let bad = |_| corrupt(&self.dir, "index: bad series entry");
        let mut rd = Reader::new(&self.index, self.series_start + r as usize);
        let nl = rd.len(256).map_err(bad)?;
        let mut labels = Vec::with_capacity(nl);
        for _ in 0..nl {
            let n =
                self.symbols.get(rd.len(usize::MAX).map_err(bad)?).ok_or_else(|| corrupt(&self.dir, "symbol ref"))?;
            let v =
                self.symbols.get(rd.len(usize::MAX).map_err(bad)?).ok_or_else(|| corrupt(&self.dir, "symbol ref"))?;
            labels.push(Label { name: n.clone(), value: v.clone() });
        }
        let nc = rd.len(1 << 24).map_err(bad)?;
        let mut chunks = Vec::with_capacity(nc);
        let mut prev_max = self.meta.min_time;
        for _ in 0..nc {
            let mint = prev_max + rd.varint().map_err(bad)?;
            let maxt = mint + rd.uvarint().map_err(bad)? as i64;
            let n = rd.len(u32::MAX as usize).map_err(bad)? as u32;
            let ts_off = rd.uvarint().map_err(bad)?;
            let val_off = rd.uvarint().map_err(bad)?;
            chunks.push(ChunkMeta { mint, maxt, n, ts_off, val_off });
            prev_max = maxt;
        }
        Ok((Labels::from_sorted(labels), chunks))
    }

    /// Decodes one chunk into `out`.
    pub(crate) fn read_chunk(&self, c: &ChunkMeta, out: &mut Vec<Sample>) -> Result<()> {
        let ts_buf = self.chunks.get(c.ts_off as usize..).ok_or_else(|| corrupt(&self.dir, "chunk offset"))?;
        let val_buf = self.chunks.get(c.val_off as usize..).ok_or_else(|| corrupt(&self.dir, "chunk offset"))?;
        let mut ts = Vec::with_capacity(c.n as usize);
        let mut vs = Vec::with_capacity(c.n as usize);
        chunkenc::decode_timestamps(ts_buf, &mut ts)?;
        chunkenc::decode_values(val_buf, c.n as usize, &mut vs)?;
        if ts.len() != c.n as usize || vs.len() != c.n as usize {
            return Err(corrupt(&self.dir, "chunk sample count mismatch"));
        }
        out.extend(ts.into_iter().zip(vs).map(|(t, v)| Sample::new(t, v)));
        Ok(())
    }

    /// Series matching `matchers` with chunks overlapping `[mint, maxt]`, in label order, with the
    /// ranges deleted from them.
    pub(crate) fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<ChunkMeta>, Intervals)>> {
        let refs = postings_for_matchers(self, matchers);
        let tomb = self.tombstones.read();
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            let (labels, chunks) = self.series(r)?;
            let chunks: Vec<ChunkMeta> = chunks.into_iter().filter(|c| c.maxt >= mint && c.mint <= maxt).collect();
            if !chunks.is_empty() {
                out.push((labels, chunks, tomb.get(&(r as u32)).cloned().unwrap_or_default()));
            }
        }
        Ok(out)
    }

    /// Samples of a selected series in `[mint, maxt]` without deleted ranges.
    pub(crate) fn samples(
        &self,
        chunks: &[ChunkMeta],
        deleted: &Intervals,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Sample>> {
        let mut out = Vec::new();
        for c in chunks {
            self.read_chunk(c, &mut out)?;
        }
        out.retain(|s| s.t >= mint && s.t <= maxt && !deleted.iter().any(|(a, b)| s.t >= *a && s.t <= *b));
        Ok(out)
    }

    /// Label names present in the block, sorted.
    pub(crate) fn label_names(&self) -> Vec<Symbol> {
        let mut v: Vec<Symbol> = self.table.keys().cloned().collect();
        v.sort();
        v
    }

    /// Records deletion of `[mint, maxt]` for series matching `matchers`, persisting the tombstones
    /// file atomically. Returns the number of series affected.
    pub(crate) fn delete(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<usize> {
        let refs = postings_for_matchers(self, matchers);
        if refs.is_empty() {
            return Ok(0);
        }
        let mut tomb = self.tombstones.write();
        let mut next = tomb.clone();
        for r in &refs {
            next.entry(*r as u32).or_default().push((mint, maxt));
        }
        write_tombstones(&self.dir, &next)?;
        *tomb = next;
        Ok(refs.len())
    }

    /// Deleted ranges of the series at `r`.
    pub(crate) fn select_tombstones(&self, r: u64) -> Intervals {
        self.tombstones.read().get(&(r as u32)).cloned().unwrap_or_default()
    }

    /// Where the block's bytes go: per column kind and encoding type byte, plus the index.
    pub fn analyze(&self) -> Result<BlockAnalysis> {
        let mut a = BlockAnalysis { index_bytes: self.index.len() as u64, ..BlockAnalysis::default() };
        let mut seen_ts = rustc_hash::FxHashSet::default();
        let mut tmp_t = Vec::new();
        let mut tmp_v = Vec::new();
        for r in self.all_refs() {
            let (labels, chunks) = self.series(r)?;
            let name = labels.metric_name().unwrap_or("").to_string();
            for c in chunks {
                let tb = self.chunks.get(c.ts_off as usize..).ok_or_else(|| corrupt(&self.dir, "chunk offset"))?;
                let vb = self.chunks.get(c.val_off as usize..).ok_or_else(|| corrupt(&self.dir, "chunk offset"))?;
                tmp_t.clear();
                tmp_v.clear();
                let tl = chunkenc::decode_timestamps(tb, &mut tmp_t)? as u64;
                let vl = chunkenc::decode_values(vb, c.n as usize, &mut tmp_v)? as u64;
                a.samples += c.n as u64;
                if seen_ts.insert(c.ts_off) {
                    *a.ts_bytes_by_type.entry(tb[0]).or_default() += tl;
                }
                let e = a.value_bytes_by_type.entry(vb[0]).or_default();
                e.0 += vl;
                e.1 += c.n as u64;
                let m = a.value_bytes_by_metric.entry(name.clone()).or_default();
                m.0 += vl;
                m.1 += c.n as u64;
            }
        }
        a.chunks_bytes = self.chunks.len() as u64;
        Ok(a)
    }

    /// Every series ref in label order.
    pub(crate) fn all_refs(&self) -> Vec<u64> {
        self.read_postings(self.all_off)
    }
}

impl PostingsSource for Block {
    fn postings(&self, name: &str, value: &str) -> Vec<u64> {
        let Some(values) = self.table.get(name) else { return Vec::new() };
        match values.binary_search_by(|(v, _)| v.as_str().cmp(value)) {
            Ok(i) => self.read_postings(self.postings_start + values[i].1 as usize),
            Err(_) => Vec::new(),
        }
    }
    fn all_postings(&self) -> Vec<u64> {
        self.read_postings(self.all_off)
    }
    fn values(&self, name: &str) -> Vec<Symbol> {
        self.table.get(name).map(|v| v.iter().map(|(s, _)| s.clone()).collect()).unwrap_or_default()
    }
}

fn read_tombstones(dir: &Path) -> Result<FxHashMap<u32, Intervals>> {
    let p = dir.join("tombstones");
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FxHashMap::default()),
        Err(e) => return Err(Error::Io { path: p, source: e }),
    };
    let bad = || corrupt(dir, "tombstones: damaged");
    if bytes.len() < 12 || &bytes[..8] != TOMBSTONES_MAGIC {
        return Err(bad());
    }
    let body = &bytes[..bytes.len() - 4];
    let crc = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().map_err(|_| bad())?);
    if crc32c::crc32c(body) != crc {
        return Err(bad());
    }
    let mut r = Reader::new(body, 8);
    let mut out: FxHashMap<u32, Intervals> = FxHashMap::default();
    while !r.is_empty() {
        let s = r.uvarint().map_err(|_| bad())? as u32;
        let a = r.varint().map_err(|_| bad())?;
        let b = r.varint().map_err(|_| bad())?;
        out.entry(s).or_default().push((a, b));
    }
    Ok(out)
}

fn write_tombstones(dir: &Path, t: &FxHashMap<u32, Intervals>) -> Result<()> {
    let mut b = TOMBSTONES_MAGIC.to_vec();
    let mut keys: Vec<&u32> = t.keys().collect();
    keys.sort();
    for k in keys {
        for (a, z) in &t[k] {
            put_uvarint(&mut b, *k as u64);
            put_varint(&mut b, *a);
            put_varint(&mut b, *z);
        }
    }
    let crc = crc32c::crc32c(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    let tmp = dir.join("tombstones.tmp");
    writer::write_synced(&tmp, &b)?;
    let p = dir.join("tombstones");
    std::fs::rename(&tmp, &p).at(&p)?;
    writer::sync_dir(dir)
}

/// Total bytes of the files in `dir` (not recursive beyond one level).
pub(crate) fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()).filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
        })
        .unwrap_or(0)
}
