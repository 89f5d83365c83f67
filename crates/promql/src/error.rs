//! Why a query failed, with the `errorType` Prometheus' HTTP API reports for it.

/// Why a query failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueryError {
    /// The expression does not parse or is not valid for the request (`bad_data`).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed: vector matching errors, too many samples, storage errors (`execution`).
    #[error("{0}")]
    Execution(String),
    /// The query ran longer than allowed (`timeout`).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The caller went away (`canceled`).
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
}

impl QueryError {
    /// The `errorType` of Prometheus' API: `bad_data`, `execution`, `timeout` or `canceled`.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            QueryError::Canceled(_) => "canceled",
        }
    }
}

/// Shorthand for results of the engine.
pub type Result<T> = std::result::Result<T, QueryError>;
