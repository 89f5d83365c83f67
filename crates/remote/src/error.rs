//! The crate's error type; every error knows its HTTP status and Prometheus API error type.

use vitals_model::StorageError;

/// Why a remote_write or OTLP request (or a sender) failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The body is larger than the configured limit (compressed or decompressed).
    #[error("request body too large: {size} bytes, limit {limit} bytes ({what})")]
    BodyTooLarge {
        /// Size found (or announced by the snappy header).
        size: u64,
        /// The limit.
        limit: u64,
        /// Which limit: "compressed" or "decompressed".
        what: &'static str,
    },
    /// The body is not valid snappy, protobuf or JSON.
    #[error("decoding request body: {0}")]
    Decode(String),
    /// The `Content-Type` is not one this endpoint accepts.
    #[error("unsupported content type {0:?}")]
    UnsupportedMediaType(String),
    /// A series is not acceptable (labels invalid); nothing of the request was stored.
    #[error("invalid series {series}: {reason}")]
    InvalidSeries {
        /// The series as received, in Prometheus notation (truncated).
        series: String,
        /// What was wrong.
        reason: String,
    },
    /// A request exceeds a limit of [`crate::IngestLimits`]; nothing of the request was stored.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// Some samples were rejected by the storage (out of order, out of bounds, duplicate, series
    /// limit); the others were committed.
    #[error("{rejected} of {total} samples rejected, first: {first}")]
    SamplesRejected {
        /// Samples rejected.
        rejected: u64,
        /// Samples in the request.
        total: u64,
        /// The first rejection, as the storage reported it.
        first: String,
    },
    /// The storage failed; nothing of the request was stored.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// A configuration is invalid.
    #[error("invalid remote configuration: {0}")]
    Config(String),
    /// Building the HTTP client failed.
    #[error("http client: {0}")]
    Client(String),
    /// Reading or writing a local file (the sender's progress) failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Reading the WAL failed.
    #[error("reading the WAL: {0}")]
    Wal(String),
}

impl RemoteError {
    /// The HTTP status a receiver answers with.
    pub fn status(&self) -> u16 {
        match self {
            RemoteError::BodyTooLarge { .. } => 413,
            RemoteError::UnsupportedMediaType(_) => 415,
            RemoteError::Decode(_)
            | RemoteError::InvalidSeries { .. }
            | RemoteError::Limit(_)
            | RemoteError::SamplesRejected { .. } => 400,
            RemoteError::Storage(e) => match e {
                StorageError::Closed => 503,
                StorageError::OutOfBounds { .. }
                | StorageError::OutOfOrder { .. }
                | StorageError::DuplicateSample { .. }
                | StorageError::InvalidLabels(_)
                | StorageError::SeriesLimit { .. } => 400,
                _ => 500,
            },
            RemoteError::Config(_) | RemoteError::Client(_) | RemoteError::Io { .. } | RemoteError::Wal(_) => 500,
        }
    }

    /// The Prometheus API `errorType` matching [`RemoteError::status`].
    pub fn error_type(&self) -> &'static str {
        match self.status() {
            503 => "unavailable",
            500 => "internal",
            _ => "bad_data",
        }
    }
}
