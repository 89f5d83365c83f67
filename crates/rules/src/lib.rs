//! Prometheus recording and alerting rules: rule files (parsed and checked as `promtool check rules`
//! does), group evaluation over any storage, alert states (inactive → pending → firing → resolved)
//! with `ALERTS`/`ALERTS_FOR_STATE` series, state kept across restarts, and Go templates for labels
//! and annotations. It knows nothing of HTTP or of how notifications are delivered.

pub mod file;
pub mod manager;
pub mod rule;
pub mod slo;
pub mod template;
pub mod unittest;

pub use file::{expand_globs, load_files, parse_rule_file, RuleFile, RuleFileError};
pub use manager::{AlertSink, AlertStatus, Group, GroupStatus, ManagerOptions, RuleManager, RuleStatus};
pub use rule::{Alert, AlertState, OutgoingAlert, Rule};
