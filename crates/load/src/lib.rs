//! The vitals load generator: drives an HTTP endpoint with an open (fixed arrival rate) or closed
//! (virtual users) workload model, records latencies in HDR histograms with coordinated-omission
//! correction, and checks thresholds such as `p95<500ms` against the result.
//!
//! It is not a scripting engine (no scenarios or multi-step journeys yet), and its HTTP client speaks
//! plain HTTP/1.1 with keep-alive only; `https` is refused with a clear error for now.

mod config;
mod engine;
mod http;
mod summary;
mod threshold;

pub use config::{
    default_connections, parse_duration, parse_rate, ConfigError, HttpUrl, LoadConfig, Model, DEFAULT_BACKLOG,
};
pub use engine::run;
pub use summary::{ErrorCounts, Latency, Summary, ThresholdResult, SCHEMA};
pub use threshold::{Metric, Op, Threshold, ThresholdError};
