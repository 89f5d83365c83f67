//! vitals' embedded time-series engine: an in-memory head written through a WAL, cut into
//! immutable memory-mapped blocks that are merged and expired over time. It implements the
//! `Appender` and `Queryable` traits of `vitals-model` and knows nothing of PromQL or HTTP.
//!
//! Data directory layout: `wal/` (segments and checkpoints), `blocks/<ULID>/` (meta.json, index,
//! chunks, tombstones), `snapshots/<name>/`, `lock`. The byte formats are in `docs/format/`.

pub mod block;
pub mod chunkenc;
mod db;
mod encoding;
pub mod error;
pub mod head;
mod index;
pub mod metrics;
mod querier;
pub mod wal;

pub use block::{Block, BlockAnalysis, BlockMeta};
pub use db::{Db, Maintenance, Options, WalSync};
pub use error::{Error, Result};
pub use head::{Head, HeadAppender, HeadOptions, HeadStats};
pub use metrics::TsdbMetrics;
pub use querier::{DbQuerier, MergedSeries};
pub use wal::{TailEvent, TailRecord, WalPosition, WalTail};
