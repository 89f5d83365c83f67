//! Chunk encodings: the streaming, append-only [`HeadChunk`] kept in memory for every open series,
//! and the cold (persisted) column encodings, with timestamps ([`encode_timestamps`]) and values
//! ([`encode_values`]) in separate columns so one timestamp column can serve many series.
//!
//! The byte formats are specified in `docs/format/chunks.md`. Every encoding is lossless: values
//! come back bit for bit (NaN payloads such as the staleness marker, `-0.0` and infinities too).
//! Decoders never panic on malformed input; they return a [`ChunkError`].

mod bits;
mod head;
mod timestamps;
mod values;

#[cfg(test)]
mod measure;

use std::fmt;

pub use head::{HeadChunk, HeadChunkIter};
pub use timestamps::{decode_timestamps, encode_timestamps};
pub use values::{decode_values, encode_values};

/// Largest sample count a cold timestamp column may declare; larger counts are rejected as corrupt.
pub const MAX_COLUMN_SAMPLES: u64 = 1 << 24;

/// Why an encoded chunk or column could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// The input ended before the encoding did.
    Truncated,
    /// The leading encoding-type byte is not a known encoding.
    BadEncoding(u8),
    /// The input is structurally invalid (the message says how).
    Corrupt(&'static str),
    /// The input declares more samples than [`MAX_COLUMN_SAMPLES`].
    TooManySamples(u64),
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkError::Truncated => write!(f, "chunk data is truncated"),
            ChunkError::BadEncoding(b) => write!(f, "unknown chunk encoding type {b}"),
            ChunkError::Corrupt(why) => write!(f, "corrupt chunk data: {why}"),
            ChunkError::TooManySamples(n) => write!(f, "chunk declares {n} samples, more than {MAX_COLUMN_SAMPLES}"),
        }
    }
}

impl std::error::Error for ChunkError {}

/// The prefix-bucket code for timestamp delta-of-deltas, shared by the head chunk and the cold
/// delta-of-delta timestamp column: `0` for 0, `10`+6 bits, `110`+9 bits, `1110`+12 bits,
/// `11110`+20 bits, `11111`+64 bits.
pub(crate) const TS_DOD_BUCKETS: bits::Buckets<6> = bits::Buckets { widths: [0, 6, 9, 12, 20, 64] };

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_display() {
        assert_eq!(ChunkError::Truncated.to_string(), "chunk data is truncated");
        assert_eq!(ChunkError::BadEncoding(9).to_string(), "unknown chunk encoding type 9");
        assert!(ChunkError::Corrupt("x").to_string().contains('x'));
        assert!(ChunkError::TooManySamples(1 << 30).to_string().contains("1073741824"));
        let e: Box<dyn std::error::Error> = Box::new(ChunkError::Truncated);
        assert!(!e.to_string().is_empty());
    }
}
