//! Getting samples into and out of vitals over the network: remote_write 1.0 receive
//! ([`decode_write_request`], [`append_write_request`]), OTLP/HTTP metrics receive
//! ([`decode_otlp`], [`append_otlp`]) and the remote_write sender (queue, shards, retries, and
//! the WAL follower that lets it resume after a restart).
//!
//! It is not the HTTP server (that is `vitals-web`, which calls the receive functions and maps
//! [`RemoteError::status`] into Prometheus' error JSON), and it does not read from remote stores.

pub mod error;
pub mod import;
pub mod otlp;
pub mod prompb;
pub mod receive;
pub mod send;
#[cfg(test)]
mod testutil;
pub mod wire;

pub use error::RemoteError;
pub use otlp::{append_otlp, decode_otlp, OtlpOptions, TranslationStrategy};
pub use receive::{append_write_request, decode_write_request, ingest_write, IngestLimits, IngestStats};
pub use send::{FollowOptions, QueueConfig, QueueManager, QueueOptions, RemoteWriteConfig, RemoteWriteTask};
