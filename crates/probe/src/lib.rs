//! Synthetic probes in the spirit of blackbox_exporter: http, tcp, tls (certificate checks), dns and
//! vitals' multi-step `journey`, configured with blackbox_exporter's module schema and reporting its
//! `probe_*` metric names; a [`ProbeManager`] runs checks on intervals, appends their series and
//! keeps an up/down history for uptime figures. It does not serve HTTP (the `web` crate does).

pub mod config;
mod dns;
pub mod history;
mod http;
pub mod journey;
pub mod manager;
mod resolve;
pub mod result;
mod tcp;
pub mod tls;

use std::time::{Duration, Instant, SystemTime};

pub use config::{parse_blackbox_file, parse_modules, ConfigError, Module, Modules, ProberKind};
pub use history::{Incident, Uptime};
pub use manager::{ProbeCheck, ProbeManager, TargetStatus};
pub use result::{render_text, ProbeMetric, ProbeResult};

use result::Gauges;

/// Probes `target` with `module` within `timeout` (bounded further by the module's own timeout).
/// Never fails: a failure is `probe_success 0` with a reason in [`ProbeResult::failure`].
pub async fn probe(module: &Module, target: &str, timeout: Duration) -> ProbeResult {
    let started = SystemTime::now();
    let start = Instant::now();
    let timeout = module.effective_timeout(timeout);
    let mut g = Gauges::default();
    let outcome = tokio::time::timeout(timeout, run(module, target, &mut g)).await;
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(format!("timed out after {:.3}s", timeout.as_secs_f64())),
    };
    ProbeResult { success: failure.is_none(), duration: start.elapsed(), started, failure, metrics: g.metrics }
}

async fn run(module: &Module, target: &str, g: &mut Gauges) -> Result<(), String> {
    match module.prober {
        ProberKind::Http => http::probe_http(&module.http, target, g).await,
        ProberKind::Tcp => tcp::probe_tcp(&module.tcp, target, false, g).await,
        ProberKind::Tls => tcp::probe_tcp(&module.tcp, target, true, g).await,
        ProberKind::Dns => dns::probe_dns(&module.dns, target, g).await,
        ProberKind::Journey => journey::probe_journey(&module.journey, target, g).await,
        ProberKind::Icmp | ProberKind::Grpc => Err(format!("prober {} is not supported by vitals", module.prober)),
    }
}
