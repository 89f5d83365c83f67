//! Alertmanager-compatible notification delivery: Alertmanager's configuration schema (`route`,
//! `receivers`, `inhibit_rules`, `time_intervals`), routing into aggregation groups with
//! group_wait/group_interval/repeat_interval, silences, inhibition, time intervals, a persisted
//! notification log, and receivers (webhook payload version 4, Slack-compatible webhooks, email
//! over SMTP, forwarding to external Alertmanagers).
//!
//! It is not an HTTP server and knows nothing of rules: the binary feeds it alerts
//! ([`Notifier::put_alerts`]) and serves its data ([`Notifier::alerts`], [`Notifier::silences`],
//! [`Notifier::status`]) under `/api/v2`. Go templates in receiver settings are not evaluated;
//! fixed default texts modelled on Alertmanager's default templates are used instead.

pub mod alert;
pub mod config;
pub mod error;
pub mod forward;
pub mod metrics;
mod nflog;
mod notifier;
pub mod receivers;
pub mod silence;
mod store;
pub mod template;
pub mod time;
pub mod timeinterval;

pub use alert::{Alert, AlertFilter, AlertState, AlertStatus};
pub use config::NotifyConfig;
pub use error::{NotifyError, SendError};
pub use forward::{forward_to_alertmanager, AlertmanagerConfig, AlertmanagerForwarder};
pub use metrics::NotifyMetrics;
pub use nflog::Entry as NflogEntry;
pub use notifier::{AlertGroupInfo, ClusterStatus, ConfigStatus, Notifier, StatusInfo, VersionInfo};
pub use silence::{Silence, SilenceInfo, SilenceMatcher, SilenceState};
