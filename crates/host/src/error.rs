//! Errors of the host collectors.

use std::path::PathBuf;

/// Why host metrics (or one collector of them) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A file under /proc or /sys could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file had content we do not understand.
    #[error("parsing {path}: {msg}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// An option's regular expression does not compile.
    #[error("invalid regex for {option}: {source}")]
    Regex {
        /// The option's name.
        option: &'static str,
        /// The compile error.
        #[source]
        source: regex::Error,
    },
    /// A collector name that does not exist.
    #[error("unknown collector {0:?}")]
    UnknownCollector(String),
}
