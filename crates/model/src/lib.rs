//! The shared vocabulary of vitals: label sets with interned symbols, samples, label matchers and the
//! two storage traits (`Appender`, `Queryable`/`Querier`) that sources, the TSDB and the query engine
//! meet on. It knows nothing of PromQL, HTTP or disk formats.

pub mod civil;
pub mod duration;
pub mod exposition;
pub mod fsutil;
pub mod labels;
pub mod matcher;
pub mod mem;
pub mod openmetrics;
pub mod relabel;
pub mod sample;
pub mod storage;

pub use duration::PromDuration;
pub use labels::{intern, Label, Labels, LabelsBuilder, Symbol, METRIC_NAME};
pub use matcher::{MatchOp, Matcher, MatcherError};
pub use mem::MemStorage;
pub use relabel::{Action, RelabelConfig, RelabelError};
pub use sample::{is_stale_nan, Sample, STALE_NAN, STALE_NAN_BITS};
pub use storage::{
    Appendable, Appender, Querier, Queryable, SampleIter, SelectHints, Series, SeriesRef, StorageError, VecSeries,
};
