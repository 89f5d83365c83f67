//! The vitals load generator: drives an HTTP endpoint with an open (fixed arrival rate) or closed
//! (virtual users) workload model, records latencies in HDR histograms with coordinated-omission
//! correction, and checks thresholds such as `p95<500ms` against the result.
//!
//! Scenario files (YAML, see [`Scenario`]) mix several named, weighted requests with response checks,
//! or run them in order as a user journey with variables (token chaining, CSV data) and think time;
//! loads ramp through stages. The HTTP client speaks HTTP/1.1 with keep-alive, or HTTP/2 (streams
//! multiplexed over a few connections: h2c with prior knowledge, or ALPN `h2` over TLS), over TLS for
//! https (rustls).

pub mod baseline;
mod config;
mod engine;
mod http;
mod http2;
mod profile;
pub mod report;
mod scenario;
mod summary;
mod threshold;
mod timeline;
pub mod vars;

pub use config::{
    default_connections, parse_duration, parse_rate, BusyPoll, Checks, ConfigError, HttpUrl, LoadConfig, Model,
    RequestSpec, DEFAULT_BACKLOG, ITERATIONS_MAX_DURATION,
};
pub use engine::{run, run_with, RunHooks};
pub use profile::{parse_stages, Stage};
pub use scenario::{Scenario, ScenarioError};
pub use summary::{ErrorCounts, Latency, PhaseLatency, RequestSummary, Summary, ThresholdResult, SCHEMA};
pub use threshold::{Metric, Op, Threshold, ThresholdError};
pub use timeline::Second;
