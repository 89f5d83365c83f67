//! Atomic JSON state files: write to `NAME.tmp`, fsync, rename over `NAME`, fsync the directory.

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::NotifyError;

/// Writes `value` as JSON to `path` so a crash leaves either the old or the new file.
pub fn write_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), NotifyError> {
    let io = |source| NotifyError::Io { path: path.to_path_buf(), source };
    let dir = path.parent().expect("state files live in a directory");
    fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension("json.tmp");
    let mut bytes = serde_json::to_vec_pretty(value).expect("serialisable");
    bytes.push(b'\n');
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(&bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    fs::rename(&tmp, path).map_err(io)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
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
