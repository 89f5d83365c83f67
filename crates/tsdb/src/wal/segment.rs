//! Segment and checkpoint files: naming, the file header, record framing and a frame reader that
//! tells a clean end of file from a torn or damaged one. The byte layout is specified in
//! `docs/format/wal.md`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::WalError;

/// Magic bytes that open every segment and checkpoint file.
pub const MAGIC: [u8; 4] = *b"VWAL";
/// Format version written in byte 4 of the file header.
pub const VERSION: u8 = 1;
/// Length of the file header (magic, version, three reserved zero bytes).
pub const FILE_HEADER_LEN: u64 = 8;
/// Length of a frame header: type (1), payload length (4, LE), CRC32C (4, LE).
pub const FRAME_HEADER_LEN: usize = 9;
/// Frame type of a complete record (the only type defined in version 1).
pub const FRAME_FULL: u8 = 1;
/// Largest payload a single record may carry (1 GiB).
pub const MAX_RECORD_LEN: usize = 1 << 30;
/// Prefix of checkpoint file names.
pub const CHECKPOINT_PREFIX: &str = "checkpoint.";
/// Suffix of files being written that are not yet valid.
pub const TMP_SUFFIX: &str = ".tmp";

/// The eight-byte header of segment and checkpoint files.
pub fn file_header() -> [u8; FILE_HEADER_LEN as usize] {
    [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], VERSION, 0, 0, 0]
}

/// File name of segment `n`: decimal, zero-padded to eight digits.
pub fn segment_name(n: u64) -> String {
    format!("{n:08}")
}

/// File name of the checkpoint covering segments up to and including `upto`.
pub fn checkpoint_name(upto: u64) -> String {
    format!("{CHECKPOINT_PREFIX}{upto:08}")
}

/// The segment number of a file name made only of ASCII digits.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// The `upto` number of a checkpoint file name.
pub fn parse_checkpoint_name(name: &str) -> Option<u64> {
    name.strip_prefix(CHECKPOINT_PREFIX).and_then(parse_segment_name)
}

/// CRC32C (Castagnoli) over the frame type, the length bytes and the payload.
pub fn frame_crc(typ: u8, len: [u8; 4], payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&[typ]);
    let crc = crc32c::crc32c_append(crc, &len);
    crc32c::crc32c_append(crc, payload)
}

/// Appends one framed record to `out`. The caller has checked `payload.len() <= MAX_RECORD_LEN`.
pub fn append_frame(out: &mut Vec<u8>, payload: &[u8]) {
    let len = (payload.len() as u32).to_le_bytes();
    out.push(FRAME_FULL);
    out.extend_from_slice(&len);
    out.extend_from_slice(&frame_crc(FRAME_FULL, len, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Bytes a record of `payload_len` bytes occupies on disk.
pub fn framed_len(payload_len: usize) -> u64 {
    (FRAME_HEADER_LEN + payload_len) as u64
}

/// An I/O error with the path and operation it came from.
pub fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> WalError + 'a {
    move |source| WalError::Io { op, path: path.to_path_buf(), source }
}

/// Fsyncs a directory so that file creations, renames and removals in it are durable.
pub fn fsync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir, "fsync directory"))
}

/// Creates segment `n` in `dir` with its header, fsyncs it and the directory.
pub fn create_segment(dir: &Path, n: u64) -> Result<(File, PathBuf), WalError> {
    let path = dir.join(segment_name(n));
    let mut file =
        OpenOptions::new().write(true).create_new(true).open(&path).map_err(io_err(&path, "create segment"))?;
    file.write_all(&file_header()).map_err(io_err(&path, "write header"))?;
    file.sync_all().map_err(io_err(&path, "fsync"))?;
    fsync_dir(dir)?;
    Ok((file, path))
}

/// Size of a file in bytes.
pub fn file_len(path: &Path) -> Result<u64, WalError> {
    fs::metadata(path).map(|m| m.len()).map_err(io_err(path, "stat"))
}

/// The WAL files found in a directory, each list sorted by number.
#[derive(Debug, Default)]
pub struct Listing {
    /// Segment files.
    pub segments: Vec<(u64, PathBuf)>,
    /// Complete checkpoint files.
    pub checkpoints: Vec<(u64, PathBuf)>,
    /// Leftover temporary files of interrupted checkpoints.
    pub temps: Vec<PathBuf>,
}

/// Lists segments, checkpoints and temporary files in `dir`; other files are ignored.
pub fn list_dir(dir: &Path) -> Result<Listing, WalError> {
    let mut out = Listing::default();
    for entry in fs::read_dir(dir).map_err(io_err(dir, "read directory"))? {
        let entry = entry.map_err(io_err(dir, "read directory"))?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        if name.ends_with(TMP_SUFFIX) {
            out.temps.push(entry.path());
        } else if let Some(n) = parse_segment_name(&name) {
            out.segments.push((n, entry.path()));
        } else if let Some(n) = parse_checkpoint_name(&name) {
            out.checkpoints.push((n, entry.path()));
        }
    }
    out.segments.sort_by_key(|s| s.0);
    out.checkpoints.sort_by_key(|s| s.0);
    Ok(out)
}

/// One step of reading a segment.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete record with a valid checksum.
    Record(&'a [u8]),
    /// Clean end of file at a frame boundary.
    End,
    /// The bytes from `offset` on are not a valid frame (torn write, flipped bits, garbage).
    Damaged {
        /// Offset of the first byte that is not part of a valid frame.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
}

/// Reads frames one by one from a segment or checkpoint of known length.
pub struct FrameReader<R> {
    r: R,
    path: PathBuf,
    len: u64,
    offset: u64,
    started: bool,
    done: bool,
    buf: Vec<u8>,
}

impl FrameReader<BufReader<File>> {
    /// Opens `path` for reading frames.
    pub fn open(path: &Path) -> Result<Self, WalError> {
        let file = File::open(path).map_err(io_err(path, "open"))?;
        let len = file.metadata().map_err(io_err(path, "stat"))?.len();
        Ok(FrameReader::new(BufReader::with_capacity(1 << 20, file), path.to_path_buf(), len))
    }
}

impl<R: Read> FrameReader<R> {
    /// Reads frames from `r`, which holds exactly `len` bytes; `path` is used in errors.
    pub fn new(r: R, path: PathBuf, len: u64) -> Self {
        FrameReader { r, path, len, offset: 0, started: false, done: false, buf: Vec::new() }
    }

    /// Total length of the input.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Offset of the next frame (after the last record returned).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn read(&mut self, n: usize) -> Result<(), WalError> {
        self.buf.resize(n, 0);
        self.r.read_exact(&mut self.buf).map_err(io_err(&self.path, "read"))
    }

    fn damaged(&mut self, offset: u64, reason: String) -> Frame<'_> {
        self.done = true;
        Frame::Damaged { offset, reason }
    }

    /// The next frame. After `End` or `Damaged` every further call returns `End`.
    pub fn next_frame(&mut self) -> Result<Frame<'_>, WalError> {
        if self.done {
            return Ok(Frame::End);
        }
        if !self.started {
            self.started = true;
            if self.len == 0 {
                self.done = true;
                return Ok(Frame::End);
            }
            if self.len < FILE_HEADER_LEN {
                let reason = format!("file header torn: file is only {} bytes", self.len);
                return Ok(self.damaged(0, reason));
            }
            self.read(FILE_HEADER_LEN as usize)?;
            if self.buf[..4] != MAGIC {
                return Ok(self.damaged(0, "bad magic in file header".to_string()));
            }
            if self.buf[4] != VERSION {
                return Err(WalError::UnsupportedVersion { file: self.path.clone(), version: self.buf[4] });
            }
            self.offset = FILE_HEADER_LEN;
        }
        let off = self.offset;
        let remaining = self.len - off;
        if remaining == 0 {
            self.done = true;
            return Ok(Frame::End);
        }
        if remaining < FRAME_HEADER_LEN as u64 {
            return Ok(self.damaged(off, format!("torn frame header: only {remaining} bytes left")));
        }
        self.read(FRAME_HEADER_LEN)?;
        let typ = self.buf[0];
        let len_bytes = [self.buf[1], self.buf[2], self.buf[3], self.buf[4]];
        let crc = u32::from_le_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]]);
        let plen = u32::from_le_bytes(len_bytes) as usize;
        if typ != FRAME_FULL {
            return Ok(self.damaged(off, format!("invalid frame type 0x{typ:02x}")));
        }
        if plen > MAX_RECORD_LEN {
            return Ok(self.damaged(off, format!("record length {plen} exceeds the maximum {MAX_RECORD_LEN}")));
        }
        let avail = remaining - FRAME_HEADER_LEN as u64;
        if plen as u64 > avail {
            return Ok(self.damaged(off, format!("torn record: length {plen} but only {avail} bytes left")));
        }
        self.read(plen)?;
        let actual = frame_crc(typ, len_bytes, &self.buf);
        if actual != crc {
            return Ok(self.damaged(off, format!("CRC mismatch: stored {crc:08x}, computed {actual:08x}")));
        }
        self.offset = off + framed_len(plen);
        Ok(Frame::Record(&self.buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn file_of(records: &[&[u8]]) -> Vec<u8> {
        let mut out = file_header().to_vec();
        for r in records {
            append_frame(&mut out, r);
        }
        out
    }

    fn read_all(bytes: &[u8]) -> (Vec<Vec<u8>>, Option<u64>) {
        let mut r = FrameReader::new(Cursor::new(bytes), PathBuf::from("test"), bytes.len() as u64);
        let mut out = Vec::new();
        loop {
            match r.next_frame().expect("in-memory read") {
                Frame::Record(p) => out.push(p.to_vec()),
                Frame::End => return (out, None),
                Frame::Damaged { offset, .. } => return (out, Some(offset)),
            }
        }
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_name(1), "00000001");
        assert_eq!(parse_segment_name("00000042"), Some(42));
        assert_eq!(parse_segment_name("123456789"), Some(123456789));
        assert_eq!(parse_segment_name("0000004a"), None);
        assert_eq!(parse_segment_name(""), None);
        assert_eq!(checkpoint_name(7), "checkpoint.00000007");
        assert_eq!(parse_checkpoint_name("checkpoint.00000007"), Some(7));
        assert_eq!(parse_checkpoint_name("checkpoint.00000007.tmp"), None);
    }

    #[test]
    fn frames_round_trip_and_damage_is_located() {
        let recs: [&[u8]; 3] = [b"alpha", b"", b"gamma-gamma"];
        let bytes = file_of(&recs);
        assert_eq!(read_all(&bytes), (recs.iter().map(|r| r.to_vec()).collect(), None));
        assert_eq!(read_all(&[]), (vec![], None));
        assert_eq!(read_all(&file_header()), (vec![], None));

        let second = FILE_HEADER_LEN + framed_len(5);
        let third = second + framed_len(0);
        // Every single-bit flip in a frame is caught at that frame; the frames before it survive.
        for i in FILE_HEADER_LEN as usize..bytes.len() {
            let (frame, start) = match i as u64 {
                x if x < second => (0, FILE_HEADER_LEN),
                x if x < third => (1, second),
                _ => (2, third),
            };
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let (got, off) = read_all(&b);
                let want: Vec<Vec<u8>> = recs[..frame].iter().map(|r| r.to_vec()).collect();
                assert_eq!(got, want, "flip at byte {i} bit {bit}");
                assert_eq!(off, Some(start), "flip at byte {i} bit {bit}");
            }
        }
        // Every truncation point inside the file is caught at the frame it cuts.
        for cut in 1..bytes.len() {
            let (got, off) = read_all(&bytes[..cut]);
            if cut as u64 == FILE_HEADER_LEN || cut as u64 == second || cut as u64 == third {
                assert_eq!(off, None, "cut {cut}");
            } else {
                assert!(off.is_some(), "cut {cut}");
                assert!(off.unwrap() <= cut as u64);
            }
            assert!(got.len() <= 3);
        }
        let mut bad_magic = bytes.clone();
        bad_magic[0] = b'X';
        assert_eq!(read_all(&bad_magic), (vec![], Some(0)));
        let zeros = [file_header().to_vec(), vec![0; 64]].concat();
        assert_eq!(read_all(&zeros), (vec![], Some(FILE_HEADER_LEN)));
    }

    #[test]
    fn unknown_version_is_an_error_not_damage() {
        let mut bytes = file_of(&[b"x"]);
        bytes[4] = 9;
        let mut r = FrameReader::new(Cursor::new(&bytes), PathBuf::from("v9"), bytes.len() as u64);
        assert!(matches!(r.next_frame(), Err(WalError::UnsupportedVersion { version: 9, .. })));
    }
}
