//! The crate's typed errors.

use std::path::PathBuf;

/// Why the notifier could not start, reload, or accept a request.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The configuration is invalid (Alertmanager's wording where it has one).
    #[error("invalid notify configuration: {0}")]
    Config(String),
    /// A silence was rejected.
    #[error("invalid silence: {0}")]
    InvalidSilence(String),
    /// No silence has that id.
    #[error("silence {0} not found")]
    SilenceNotFound(String),
    /// A state file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A state file is not valid JSON of the expected shape.
    #[error("{path}: corrupt state file: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// An HTTP client could not be built from `http_config`.
    #[error("http_config: {0}")]
    Client(#[from] vitals_client::ClientError),
}

/// Why one delivery attempt failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// What went wrong (never contains secrets).
    pub message: String,
    /// Whether trying again may succeed (network errors, 5xx, 429).
    pub retryable: bool,
}

impl SendError {
    /// An error worth retrying.
    pub fn retry(message: impl Into<String>) -> Self {
        SendError { message: message.into(), retryable: true }
    }

    /// An error that will not go away by retrying.
    pub fn fatal(message: impl Into<String>) -> Self {
        SendError { message: message.into(), retryable: false }
    }
}
