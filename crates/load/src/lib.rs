//! The vitals load generator: drives an HTTP endpoint with an open (fixed arrival rate) or closed
//! (virtual users) workload model, records latencies in HDR histograms with coordinated-omission
//! correction, and checks thresholds such as `p95<500ms` against the result.
//!
//! Scenario files (YAML, see [`Scenario`]) mix several named, weighted requests with response checks;
//! it is not a scripting engine (no multi-step journeys or variables), and its HTTP client speaks
//! plain HTTP/1.1 with keep-alive only; `https` is refused with a clear error for now.

pub mod baseline;
mod config;
mod engine;
mod http;
mod profile;
pub mod report;
mod scenario;
mod summary;
mod threshold;
mod timeline;
pub mod vars;

pub use config::{
    default_connections, parse_duration, parse_rate, Checks, ConfigError, HttpUrl, LoadConfig, Model, RequestSpec,
    DEFAULT_BACKLOG,
};
pub use engine::{run, run_with, RunHooks};
pub use profile::{parse_stages, Stage};
pub use scenario::{Scenario, ScenarioError};
pub use summary::{ErrorCounts, Latency, RequestSummary, Summary, ThresholdResult, SCHEMA};
pub use threshold::{Metric, Op, Threshold, ThresholdError};
pub use timeline::Second;
