//! The outcome of one probe: blackbox_exporter's `probe_*` gauges, and their text exposition as
//! blackbox_exporter's `/probe` answers it.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// One gauge sample of a probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeMetric {
    /// Metric name (`probe_*`).
    pub name: &'static str,
    /// Label pairs (besides job and instance).
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: f64,
}

/// What one probe found.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    /// `probe_success`.
    pub success: bool,
    /// `probe_duration_seconds`.
    pub duration: Duration,
    /// When the probe started.
    pub started: SystemTime,
    /// Why the probe failed (None when it succeeded), for logs and the UI.
    pub failure: Option<String>,
    /// Every other gauge, in the order the prober set them.
    pub metrics: Vec<ProbeMetric>,
}

impl ProbeResult {
    /// The value of `name` with the given labels (first match), for tests and the UI.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "probe_success" => Some(if self.success { 1.0 } else { 0.0 }),
            "probe_duration_seconds" => Some(self.duration.as_secs_f64()),
            _ => self.metrics.iter().find(|m| m.name == name).map(|m| m.value),
        }
    }

    /// The value of `name` whose label `label` is `value`.
    pub fn get_with(&self, name: &str, label: &str, value: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.name == name && m.labels.iter().any(|(k, v)| *k == label && v == value))
            .map(|m| m.value)
    }

    /// Every sample including `probe_success` and `probe_duration_seconds`, sorted by name then labels.
    pub fn all_metrics(&self) -> Vec<ProbeMetric> {
        let mut all = self.metrics.clone();
        all.push(ProbeMetric {
            name: "probe_success",
            labels: vec![],
            value: self.get("probe_success").unwrap_or(0.0),
        });
        all.push(ProbeMetric { name: "probe_duration_seconds", labels: vec![], value: self.duration.as_secs_f64() });
        for m in &mut all {
            m.labels.sort();
        }
        all.sort_by(|a, b| a.name.cmp(b.name).then_with(|| a.labels.cmp(&b.labels)));
        all
    }
}

/// Collects gauges while a prober runs; setting a gauge twice keeps the last value, `add` sums.
#[derive(Debug, Default)]
pub(crate) struct Gauges {
    pub(crate) metrics: Vec<ProbeMetric>,
}

impl Gauges {
    pub(crate) fn set(&mut self, name: &'static str, value: f64) {
        self.set_with(name, vec![], value);
    }

    pub(crate) fn set_with(&mut self, name: &'static str, labels: Vec<(&'static str, String)>, value: f64) {
        match self.metrics.iter_mut().find(|m| m.name == name && m.labels == labels) {
            Some(m) => m.value = value,
            None => self.metrics.push(ProbeMetric { name, labels, value }),
        }
    }

    pub(crate) fn add_phase(&mut self, name: &'static str, phase: &'static str, d: Duration) {
        let labels = vec![("phase", phase.to_string())];
        match self.metrics.iter_mut().find(|m| m.name == name && m.labels == labels) {
            Some(m) => m.value += d.as_secs_f64(),
            None => self.metrics.push(ProbeMetric { name, labels, value: d.as_secs_f64() }),
        }
    }
}

/// blackbox_exporter's HELP text of a `probe_*` metric.
pub fn help(name: &str) -> &'static str {
    match name {
        "probe_success" => "Displays whether or not the probe was a success",
        "probe_duration_seconds" => "Returns how long the probe took to complete in seconds",
        "probe_dns_lookup_time_seconds" => "Returns the time taken for probe dns lookup in seconds",
        "probe_ip_protocol" => "Specifies whether probe ip protocol is IP4 or IP6",
        "probe_ip_addr_hash" => "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
        "probe_failed_due_to_regex" => "Indicates if probe failed due to regex",
        "probe_http_status_code" => "Response HTTP status code",
        "probe_http_content_length" => "Length of http content response",
        "probe_http_uncompressed_body_length" => "Length of uncompressed response body",
        "probe_http_redirects" => "The number of redirects",
        "probe_http_ssl" => "Indicates if SSL was used for the final redirect",
        "probe_http_version" => "Returns the version of HTTP of the probe response",
        "probe_http_duration_seconds" => "Duration of http request by phase, summed over all redirects",
        "probe_http_last_modified_timestamp_seconds" => "Returns the Last-Modified HTTP response header in unixtime",
        "probe_ssl_earliest_cert_expiry" => "Returns last SSL chain expiry in unixtime",
        "probe_ssl_last_chain_expiry_timestamp_seconds" => "Returns last SSL chain expiry in timestamp",
        "probe_ssl_last_chain_info" => "Contains SSL leaf certificate information",
        "probe_tls_version_info" => "Returns the TLS version used or NaN when unknown",
        "probe_dns_answer_rrs" => "Returns number of entries in the answer resource record list",
        "probe_dns_authority_rrs" => "Returns number of entries in the authority resource record list",
        "probe_dns_additional_rrs" => "Returns number of entries in the additional resource record list",
        "probe_dns_query_succeeded" => "Displays whether or not the query was executed successfully",
        "probe_dns_duration_seconds" => "Duration of DNS request by phase",
        "probe_journey_step_success" => "Whether each step of the journey succeeded",
        "probe_journey_step_duration_seconds" => "Duration of each step of the journey in seconds",
        "probe_journey_step_status_code" => "Response HTTP status code of each step of the journey",
        _ => "",
    }
}

/// Writes the result in text exposition format 0.0.4, as blackbox_exporter's `/probe` does: every
/// family sorted by name with its HELP and TYPE (all gauges), samples sorted by labels.
pub fn render_text(result: &ProbeResult, out: &mut String) {
    let all = result.all_metrics();
    let mut last: Option<&str> = None;
    for m in &all {
        if last != Some(m.name) {
            let _ = writeln!(out, "# HELP {} {}", m.name, help(m.name));
            let _ = writeln!(out, "# TYPE {} gauge", m.name);
            last = Some(m.name);
        }
        out.push_str(m.name);
        if !m.labels.is_empty() {
            out.push('{');
            for (i, (k, v)) in m.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(k);
                out.push_str("=\"");
                escape_label(v, out);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        format_value(m.value, out);
        out.push('\n');
    }
}

fn escape_label(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn format_value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sorted_families_with_help() {
        let mut g = Gauges::default();
        g.set("probe_http_status_code", 200.0);
        g.add_phase("probe_http_duration_seconds", "resolve", Duration::from_millis(1));
        g.add_phase("probe_http_duration_seconds", "connect", Duration::from_millis(2));
        g.add_phase("probe_http_duration_seconds", "connect", Duration::from_millis(2));
        g.set_with("probe_ssl_last_chain_info", vec![("subject", "CN=a\"b".into())], 1.0);
        let r = ProbeResult {
            success: true,
            duration: Duration::from_millis(250),
            started: SystemTime::now(),
            failure: None,
            metrics: g.metrics,
        };
        let mut s = String::new();
        render_text(&r, &mut s);
        let expected = "# HELP probe_duration_seconds Returns how long the probe took to complete in seconds
# TYPE probe_duration_seconds gauge
probe_duration_seconds 0.25
# HELP probe_http_duration_seconds Duration of http request by phase, summed over all redirects
# TYPE probe_http_duration_seconds gauge
probe_http_duration_seconds{phase=\"connect\"} 0.004
probe_http_duration_seconds{phase=\"resolve\"} 0.001
# HELP probe_http_status_code Response HTTP status code
# TYPE probe_http_status_code gauge
probe_http_status_code 200
# HELP probe_ssl_last_chain_info Contains SSL leaf certificate information
# TYPE probe_ssl_last_chain_info gauge
probe_ssl_last_chain_info{subject=\"CN=a\\\"b\"} 1
# HELP probe_success Displays whether or not the probe was a success
# TYPE probe_success gauge
probe_success 1
";
        assert_eq!(s, expected);
    }
}
