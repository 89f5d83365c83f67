//! Following the WAL while it is written, read-only, for consumers such as the remote_write sender.
//!
//! A [`WalTail`] starts at the oldest data still in the WAL: it reads the newest checkpoint's series
//! definitions (its head-chunk records, type `0x80`, and its samples are skipped), then every
//! segment after it in order. Series definitions are always reported; samples only from a given
//! [`WalPosition`] on, so a consumer that restarts knows every series again but resends nothing
//! before the position it saved.
//!
//! At the live end (the highest segment) a short or not yet checksum-valid frame is taken to be
//! still in writing: [`WalTail::next_event`] returns `None` and the same bytes are read again on the next
//! call. Once a newer segment exists, the older one is complete (the writer fsyncs a segment
//! before it starts the next), so damage found there is skipped with a warning. When the segment
//! being read (or the next ones) was deleted by a checkpoint, the checkpoint's series are reported
//! again and reading continues at the first segment after it; the samples of the deleted segments
//! are lost to the consumer (counted in [`WalTail::segments_lost`]).

use std::collections::VecDeque;
use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::{self, Record, RefSample, RefSeries};
use super::segment::{
    self, FrameReader, FILE_HEADER_LEN, FRAME_FULL, FRAME_HEADER_LEN, MAGIC, MAX_RECORD_LEN, VERSION,
};
use super::{Frame, WalError};

/// A place in the WAL: a segment number and a byte offset in it (at a frame boundary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct WalPosition {
    /// Segment number.
    pub segment: u64,
    /// Byte offset in the segment.
    pub offset: u64,
}

/// What a record of the WAL tail holds.
#[derive(Debug, Clone, PartialEq)]
pub enum TailRecord {
    /// Series definitions.
    Series(Vec<RefSeries>),
    /// Samples.
    Samples(Vec<RefSample>),
}

/// One record read from the tail and the position just after it.
#[derive(Debug, Clone, PartialEq)]
pub struct TailEvent {
    /// The decoded record.
    pub record: TailRecord,
    /// Where the next record starts; saving it and reopening there resumes after this record.
    pub position: WalPosition,
}

/// A read-only follower of a WAL directory (see the module documentation).
pub struct WalTail {
    dir: PathBuf,
    segment: u64,
    offset: u64,
    file: Option<File>,
    samples_from: WalPosition,
    queue: VecDeque<TailEvent>,
    buf: Vec<u8>,
    lost: u64,
    /// Number of the newest checkpoint whose series [`WalTail::new_checkpoint_series`] reported.
    checkpoint_reported: u64,
}

/// Result of one attempt to read a frame.
enum Step {
    Record,
    Wait,
    Moved,
}

impl WalTail {
    /// Opens `dir` and prepares to report samples from `samples_from` on (use the default position
    /// to report all samples still in the WAL). Series definitions are reported from the start.
    pub fn open(dir: &Path, samples_from: WalPosition) -> Result<Self, WalError> {
        let mut t = WalTail {
            dir: dir.to_path_buf(),
            segment: 0,
            offset: 0,
            file: None,
            samples_from,
            queue: VecDeque::new(),
            buf: Vec::new(),
            lost: 0,
            checkpoint_reported: 0,
        };
        let listing = segment::list_dir(dir)?;
        let cp = listing.checkpoints.last().cloned();
        let after = cp.as_ref().map_or(0, |c| c.0);
        let first = listing.segments.iter().map(|s| s.0).find(|n| *n > after).unwrap_or(after + 1);
        t.segment = first;
        if let Some((_, path)) = cp {
            t.read_checkpoint(&path, WalPosition { segment: first, offset: 0 })?;
        }
        if samples_from.segment != 0 && samples_from.segment < first {
            tracing::warn!(
                dir = %dir.display(),
                from = samples_from.segment,
                first,
                "WAL tail: segments from the saved position on were already checkpointed; their samples are skipped"
            );
            t.lost += first - samples_from.segment;
        }
        Ok(t)
    }

    /// The position of the next record to read.
    pub fn position(&self) -> WalPosition {
        WalPosition { segment: self.segment, offset: self.offset.max(FILE_HEADER_LEN) }
    }

    /// The number of the newest checkpoint and the references of the series it holds, when there
    /// is a checkpoint newer than the last one reported (`None` otherwise). A reader that is past
    /// that checkpoint's segment can forget every series neither in it nor defined later: the head
    /// dropped them.
    pub fn new_checkpoint_series(&mut self) -> Result<Option<(u64, Vec<u64>)>, WalError> {
        let listing = segment::list_dir(&self.dir)?;
        let Some((n, path)) = listing.checkpoints.last().cloned() else { return Ok(None) };
        if n <= self.checkpoint_reported {
            return Ok(None);
        }
        let mut refs = Vec::new();
        let mut r = match FrameReader::open(&path) {
            Ok(r) => r,
            // Replaced by a newer checkpoint meanwhile: the next call finds that one.
            Err(_) => return Ok(None),
        };
        loop {
            match r.next_frame()? {
                Frame::Record(rec) => {
                    if record::record_type(rec) == Some(record::RecordType::Series) {
                        if let Record::Series(s) = record::decode(rec)? {
                            refs.extend(s.iter().map(|s| s.r));
                        }
                    }
                }
                Frame::End => break,
                Frame::Damaged { offset, reason } => return Err(WalError::Corrupt { file: path, offset, reason }),
            }
        }
        self.checkpoint_reported = n;
        Ok(Some((n, refs)))
    }

    /// Segments whose samples were never read because a checkpoint deleted them first.
    pub fn segments_lost(&self) -> u64 {
        self.lost
    }

    /// The next series or samples record, or `None` when nothing complete is there yet.
    pub fn next_event(&mut self) -> Result<Option<TailEvent>, WalError> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Ok(Some(e));
            }
            let start = WalPosition { segment: self.segment, offset: self.offset };
            match self.read_frame()? {
                Step::Wait => return Ok(None),
                Step::Moved => continue,
                Step::Record => {}
            }
            let position = WalPosition { segment: self.segment, offset: self.offset };
            match record::record_type(&self.buf) {
                Some(record::RecordType::Series) => {
                    if let Record::Series(s) = record::decode(&self.buf)? {
                        return Ok(Some(TailEvent { record: TailRecord::Series(s), position }));
                    }
                }
                Some(record::RecordType::Samples) if start >= self.samples_from => {
                    let mut s = Vec::new();
                    record::decode_samples(&self.buf, &mut s)?;
                    return Ok(Some(TailEvent { record: TailRecord::Samples(s), position }));
                }
                // Samples before the start position, tombstones, and record types of later versions.
                _ => {}
            }
        }
    }

    fn segment_path(&self, n: u64) -> PathBuf {
        self.dir.join(segment::segment_name(n))
    }

    fn read_checkpoint(&mut self, path: &Path, position: WalPosition) -> Result<(), WalError> {
        let mut r = FrameReader::open(path)?;
        loop {
            match r.next_frame()? {
                Frame::Record(rec) => {
                    if record::record_type(rec) == Some(record::RecordType::Series) {
                        if let Record::Series(s) = record::decode(rec)? {
                            self.queue.push_back(TailEvent { record: TailRecord::Series(s), position });
                        }
                    }
                }
                Frame::End => return Ok(()),
                Frame::Damaged { offset, reason } => {
                    return Err(WalError::Corrupt { file: path.to_path_buf(), offset, reason })
                }
            }
        }
    }

    /// Reads the frame at the current offset into `buf`.
    fn read_frame(&mut self) -> Result<Step, WalError> {
        if self.file.is_none() {
            let path = self.segment_path(self.segment);
            match File::open(&path) {
                Ok(f) => {
                    self.file = Some(f);
                    self.offset = 0;
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    // Not written yet, or deleted by a checkpoint.
                    return self.jump(self.segment.saturating_sub(1));
                }
                Err(source) => return Err(WalError::Io { op: "open", path, source }),
            }
        }
        let path = self.segment_path(self.segment);
        let Some(file) = &self.file else { return Ok(Step::Wait) };
        let len = file.metadata().map_err(|source| WalError::Io { op: "stat", path: path.clone(), source })?.len();
        let read_at = |buf: &mut [u8], off: u64| {
            file.read_exact_at(buf, off).map_err(|source| WalError::Io { op: "read", path: path.clone(), source })
        };
        if self.offset == 0 {
            if len < FILE_HEADER_LEN {
                return self.at_end(len, "file header incomplete");
            }
            let mut h = [0u8; FILE_HEADER_LEN as usize];
            read_at(&mut h, 0)?;
            if h[..4] != MAGIC {
                return self.at_end(len, "bad magic");
            }
            if h[4] != VERSION {
                return Err(WalError::UnsupportedVersion { file: path, version: h[4] });
            }
            self.offset = FILE_HEADER_LEN;
        }
        if len < self.offset + FRAME_HEADER_LEN as u64 {
            return self.at_end(len, "frame header incomplete");
        }
        let mut fh = [0u8; FRAME_HEADER_LEN];
        read_at(&mut fh, self.offset)?;
        let len_bytes = [fh[1], fh[2], fh[3], fh[4]];
        let plen = u32::from_le_bytes(len_bytes) as usize;
        let crc = u32::from_le_bytes([fh[5], fh[6], fh[7], fh[8]]);
        if fh[0] != FRAME_FULL || plen > MAX_RECORD_LEN {
            return self.at_end(len, "invalid frame header");
        }
        let end = self.offset + FRAME_HEADER_LEN as u64 + plen as u64;
        if len < end {
            return self.at_end(len, "record incomplete");
        }
        self.buf.resize(plen, 0);
        read_at(&mut self.buf, self.offset + FRAME_HEADER_LEN as u64)?;
        if segment::frame_crc(fh[0], len_bytes, &self.buf) != crc {
            return self.at_end(len, "CRC mismatch");
        }
        self.offset = end;
        Ok(Step::Record)
    }

    /// No complete, valid frame at the offset: wait at the live end, move on once a newer segment exists.
    fn at_end(&mut self, len: u64, why: &str) -> Result<Step, WalError> {
        let listing = segment::list_dir(&self.dir)?;
        if !listing.segments.iter().any(|s| s.0 > self.segment)
            && !listing.checkpoints.iter().any(|c| c.0 >= self.segment)
        {
            return Ok(Step::Wait);
        }
        // A newer segment exists, so this one is final; it may have grown since we looked.
        let now = self.file.as_ref().and_then(|f| f.metadata().ok()).map_or(len, |m| m.len());
        if now != len {
            return Ok(Step::Moved);
        }
        if self.offset < len {
            tracing::warn!(
                segment = self.segment,
                offset = self.offset,
                "WAL tail: {why} in a completed segment; skipping its remaining {} bytes",
                len - self.offset
            );
        }
        self.jump(self.segment)
    }

    /// Continues at the first segment numbered above `after`; if segments are missing in between
    /// (deleted by a checkpoint), re-reads the checkpoint's series first.
    fn jump(&mut self, after: u64) -> Result<Step, WalError> {
        let listing = segment::list_dir(&self.dir)?;
        let next = listing.segments.iter().map(|s| s.0).find(|n| *n > after);
        let cp = listing.checkpoints.last().cloned().filter(|c| c.0 > after);
        let target = match (next, &cp) {
            (Some(n), Some(c)) => n.max(c.0 + 1),
            (Some(n), None) => n,
            (None, Some(c)) => c.0 + 1,
            (None, None) => return Ok(Step::Wait),
        };
        if target == self.segment && self.file.is_none() {
            // The segment we want is not there yet.
            return Ok(Step::Wait);
        }
        if target > after + 1 {
            let missing = target - (after + 1);
            tracing::warn!(dir = %self.dir.display(), after, target, "WAL tail: {missing} segments were checkpointed before they were read");
            self.lost += missing;
            if let Some((_, path)) = cp {
                match self.read_checkpoint(&path, WalPosition { segment: target, offset: 0 }) {
                    Ok(()) => {}
                    // Replaced by a newer checkpoint meanwhile: the next call finds that one.
                    Err(WalError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => return Ok(Step::Moved),
                    Err(e) => return Err(e),
                }
            }
        }
        self.segment = target;
        self.offset = 0;
        self.file = None;
        Ok(Step::Moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::{SyncMode, Wal, WalOptions};
    use std::io::Write;
    use vitals_model::Labels;

    fn series(r: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let labels = Labels::from_pairs([("__name__", "m"), ("i", &r.to_string())]);
        record::encode(&Record::Series(vec![RefSeries { r, labels }]), &mut out);
        out
    }

    fn samples(r: u64, ts: std::ops::Range<i64>) -> Vec<u8> {
        let mut out = Vec::new();
        record::encode_samples(&ts.map(|t| RefSample { r, t, v: t as f64 }).collect::<Vec<_>>(), &mut out);
        out
    }

    fn open_wal(dir: &Path) -> Wal {
        let o = WalOptions { segment_size: 1 << 20, sync: SyncMode::Always };
        Wal::open(dir, o, |_| Ok::<(), WalError>(())).unwrap().0
    }

    fn drain(t: &mut WalTail) -> (Vec<u64>, Vec<i64>) {
        let (mut s, mut ts) = (Vec::new(), Vec::new());
        while let Some(e) = t.next_event().unwrap() {
            match e.record {
                TailRecord::Series(v) => s.extend(v.iter().map(|x| x.r)),
                TailRecord::Samples(v) => ts.extend(v.iter().map(|x| x.t)),
            }
        }
        (s, ts)
    }

    #[test]
    fn follows_appends_and_new_segments_and_resumes_from_a_position() {
        let dir = tempfile::tempdir().unwrap();
        let wal = open_wal(dir.path());
        let mut t = WalTail::open(dir.path(), WalPosition::default()).unwrap();
        assert_eq!(drain(&mut t), (vec![], vec![]));
        wal.log(&[&series(1), &samples(1, 0..3)]).unwrap();
        assert_eq!(drain(&mut t), (vec![1], vec![0, 1, 2]));
        let mid = t.position();
        wal.cut_segment().unwrap();
        wal.log(&[&series(2), &samples(2, 10..12)]).unwrap();
        wal.log(&[&samples(1, 3..4)]).unwrap();
        assert_eq!(drain(&mut t), (vec![2], vec![10, 11, 3]));
        // Reopened at `mid`: all series again, only the samples after it.
        let mut t2 = WalTail::open(dir.path(), mid).unwrap();
        assert_eq!(drain(&mut t2), (vec![1, 2], vec![10, 11, 3]));
    }

    #[test]
    fn a_partial_record_at_the_live_end_is_retried() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = segment::file_header().to_vec();
        segment::append_frame(&mut bytes, &series(1));
        let mut rec = Vec::new();
        segment::append_frame(&mut rec, &samples(1, 0..100));
        let path = dir.path().join(segment::segment_name(1));
        let mut f = File::create(&path).unwrap();
        f.write_all(&bytes).unwrap();
        f.write_all(&rec[..rec.len() / 2]).unwrap();
        let mut t = WalTail::open(dir.path(), WalPosition::default()).unwrap();
        assert_eq!(drain(&mut t), (vec![1], vec![]));
        assert_eq!(drain(&mut t), (vec![], vec![]));
        f.write_all(&rec[rec.len() / 2..]).unwrap();
        assert_eq!(drain(&mut t).1.len(), 100);
        // Garbage at the end of a completed segment is skipped once a newer segment exists.
        f.write_all(&[0u8; 20]).unwrap();
        assert_eq!(drain(&mut t), (vec![], vec![]));
        let mut next = segment::file_header().to_vec();
        segment::append_frame(&mut next, &samples(1, 100..101));
        std::fs::write(dir.path().join(segment::segment_name(2)), next).unwrap();
        assert_eq!(drain(&mut t), (vec![], vec![100]));
    }

    #[test]
    fn a_checkpointed_segment_is_replaced_by_the_checkpoint_series() {
        let dir = tempfile::tempdir().unwrap();
        let wal = open_wal(dir.path());
        wal.log(&[&series(1), &samples(1, 0..5)]).unwrap();
        wal.cut_segment().unwrap();
        wal.log(&[&series(2), &samples(2, 0..5)]).unwrap();
        let mut t = WalTail::open(dir.path(), WalPosition::default()).unwrap();
        // The checkpoint deletes segments 1 and 2 before the tail read anything.
        let last = wal.cut_segment().unwrap();
        let mut cp = vec![series(1), series(2), vec![0x80, 0]];
        wal.checkpoint(last - 1, &mut cp.drain(..)).unwrap();
        wal.log(&[&samples(2, 5..7)]).unwrap();
        let (s, ts) = drain(&mut t);
        assert_eq!(s, vec![1, 2]);
        assert_eq!(ts, vec![5, 6]);
        assert_eq!(t.segments_lost(), 2);
        // Opening after the checkpoint reads its series, skipping head chunks.
        let mut t2 = WalTail::open(dir.path(), WalPosition::default()).unwrap();
        assert_eq!(drain(&mut t2), (vec![1, 2], vec![5, 6]));
    }
}
