//! Atomic JSON state files: write to `NAME.tmp`, fsync, rename over `NAME`, fsync the directory.

use std::fs;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::NotifyError;

/// Writes `value` as JSON to `path` so a crash leaves either the old or the new file.
pub fn write_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), NotifyError> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("serialisable");
    bytes.push(b'\n');
    vitals_model::fsutil::write_atomic(path, &bytes)
        .map_err(|source| NotifyError::Io { path: path.to_path_buf(), source })
}

/// Reads a JSON state file; a missing file gives `None`.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, NotifyError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| NotifyError::Corrupt { path: path.to_path_buf(), source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(NotifyError::Io { path: path.to_path_buf(), source }),
    }
}
