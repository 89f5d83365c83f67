//! Errors of the storage engine.

use std::path::PathBuf;

use vitals_model::StorageError;

use crate::chunkenc::ChunkError;
use crate::wal::WalError;

/// Everything the engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The write-ahead log failed.
    #[error("WAL: {0}")]
    Wal(#[from] WalError),
    /// A chunk could not be decoded.
    #[error("chunk: {0}")]
    Chunk(#[from] ChunkError),
    /// A block's files are damaged or not in our format.
    #[error("block {path}: {reason}")]
    CorruptBlock {
        /// The block directory or file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Another process holds the data directory.
    #[error("data directory {0} is locked by another process")]
    Locked(PathBuf),
    /// A sample or series was refused.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A snapshot name that is not a plain directory name.
    #[error("invalid snapshot name {0:?}")]
    BadSnapshotName(String),
}

/// Result with the engine's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an I/O error.
pub(crate) trait IoContext<T> {
    /// Turns an `io::Error` into [`Error::Io`] naming `path`.
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io { path: path.into(), source })
    }
}

impl From<Error> for StorageError {
    fn from(e: Error) -> Self {
        match e {
            Error::Storage(s) => s,
            Error::Io { source, .. } => StorageError::Io(source),
            other => StorageError::Other(other.to_string()),
        }
    }
}
