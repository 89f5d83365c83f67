//! Host metrics for vitals: CPU, memory, load, disks, filesystems, network, pressure and a few kernel
//! counters, read from `/proc` and `/sys` and named, labelled, typed and described exactly as
//! Prometheus' node_exporter does, so dashboards and alert rules written for node_exporter work unchanged.
//!
//! [`HostCollector::collect`] returns plain [`Family`] values (for appending straight into storage) and
//! [`HostCollector::render_text`] writes them as text exposition 0.0.4 (for scraping vitals itself).
//! Each collector runs on its own; one that fails reports `node_scrape_collector_success{collector} 0`
//! and the others still answer.
//!
//! Not for: per-process metrics, hardware sensors (hwmon, thermal), systemd units, or anything that
//! needs netlink, udev or root. Linux only.

mod collectors;
mod error;
mod render;

use std::path::PathBuf;
use std::time::Instant;

pub use error::HostError;

/// node_exporter's default `--collector.filesystem.mount-points-exclude`.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter's default `--collector.filesystem.fs-types-exclude`.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|\
fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|\
tracefs)$";
/// node_exporter's default `--collector.diskstats.device-exclude`.
pub const DEFAULT_DISK_DEVICE_EXCLUDE: &str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";
/// node_exporter's default `--collector.netstat.fields`.
pub const DEFAULT_NETSTAT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|\
Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|\
Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|\
Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";
/// node_exporter's default `--collector.vmstat.fields`.
pub const DEFAULT_VMSTAT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

/// Names of all collectors, in the order they run.
pub const ALL_COLLECTORS: &[&str] = &[
    "cpu",
    "diskstats",
    "filefd",
    "filesystem",
    "loadavg",
    "meminfo",
    "netdev",
    "netstat",
    "pressure",
    "stat",
    "time",
    "uname",
    "vmstat",
];

/// Where to read from, what to skip and which collectors to run; [`Default`] matches node_exporter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOptions {
    /// procfs mount point (node_exporter's `--path.procfs`).
    pub proc_path: PathBuf,
    /// sysfs mount point (`--path.sysfs`).
    pub sys_path: PathBuf,
    /// Root of the host's filesystem, stripped from mount points (`--path.rootfs`).
    pub rootfs: PathBuf,
    /// udev's database of device properties (`--path.udev.data`), for `node_disk_info`.
    pub udev_data_path: PathBuf,
    /// Regex of mount points the filesystem collector skips.
    pub filesystem_mount_points_exclude: String,
    /// Regex of filesystem types the filesystem collector skips.
    pub filesystem_fs_types_exclude: String,
    /// Regex of block devices the diskstats collector skips.
    pub diskstats_device_exclude: String,
    /// Regex of network devices the netdev collector skips (empty: none).
    pub netdev_device_exclude: String,
    /// Regex of `Protocol_Field` names the netstat collector keeps.
    pub netstat_fields: String,
    /// Regex of /proc/vmstat fields the vmstat collector keeps.
    pub vmstat_fields: String,
    /// Collectors to run, by name (see [`ALL_COLLECTORS`]).
    pub collectors: Vec<String>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            proc_path: "/proc".into(),
            sys_path: "/sys".into(),
            rootfs: "/".into(),
            udev_data_path: "/run/udev/data".into(),
            filesystem_mount_points_exclude: DEFAULT_MOUNT_POINTS_EXCLUDE.into(),
            filesystem_fs_types_exclude: DEFAULT_FS_TYPES_EXCLUDE.into(),
            diskstats_device_exclude: DEFAULT_DISK_DEVICE_EXCLUDE.into(),
            netdev_device_exclude: String::new(),
            netstat_fields: DEFAULT_NETSTAT_FIELDS.into(),
            vmstat_fields: DEFAULT_VMSTAT_FIELDS.into(),
            collectors: ALL_COLLECTORS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The Prometheus metric type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A monotonically increasing value.
    Counter,
    /// A value that can go up and down.
    Gauge,
    /// No type (node_exporter uses it for vmstat and netstat fields).
    Untyped,
}

impl Kind {
    /// The name used in `# TYPE` lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Untyped => "untyped",
        }
    }
}

/// Label pairs of one sample, in the order they are rendered.
pub type LabelPairs = Vec<(String, String)>;

/// One metric family: a name, its help text and type, and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Metric name, e.g. `node_cpu_seconds_total`.
    pub name: String,
    /// Help text (unescaped).
    pub help: String,
    /// Metric type.
    pub kind: Kind,
    /// Samples: label pairs and value.
    pub samples: Vec<(LabelPairs, f64)>,
}

impl Family {
    /// An empty family.
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: Kind) -> Self {
        Family { name: name.into(), help: help.into(), kind, samples: Vec::new() }
    }

    /// A family with one unlabelled sample.
    pub fn single(name: impl Into<String>, help: impl Into<String>, kind: Kind, value: f64) -> Self {
        let mut f = Family::new(name, help, kind);
        f.samples.push((Vec::new(), value));
        f
    }

    /// Adds a sample with the given labels.
    pub fn push(&mut self, labels: &[(&str, &str)], value: f64) {
        self.samples.push((labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), value));
    }
}

/// Collects host metrics on demand; cheap to call every scrape (no state between calls).
#[derive(Debug)]
pub struct HostCollector {
    ctx: collectors::Context,
    enabled: Vec<collectors::Collector>,
}

impl HostCollector {
    /// A collector with `opts`; fails on an invalid regex or an unknown collector name.
    pub fn new(opts: HostOptions) -> Result<Self, HostError> {
        let enabled = opts
            .collectors
            .iter()
            .map(|name| collectors::Collector::by_name(name).ok_or_else(|| HostError::UnknownCollector(name.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HostCollector { ctx: collectors::Context::new(opts)?, enabled })
    }

    /// Runs every enabled collector; families are sorted by name, and a failing collector only
    /// shows as `node_scrape_collector_success{collector="..."} 0`.
    pub fn collect(&self) -> Vec<Family> {
        self.collect_with_errors().0
    }

    /// Like [`HostCollector::collect`], also returning each failed collector's name and error.
    pub fn collect_with_errors(&self) -> (Vec<Family>, Vec<(&'static str, HostError)>) {
        let mut out = Vec::with_capacity(128);
        let mut errors = Vec::new();
        let mut duration = Family::new(
            "node_scrape_collector_duration_seconds",
            "node_exporter: Duration of a collector scrape.",
            Kind::Gauge,
        );
        let mut success =
            Family::new("node_scrape_collector_success", "node_exporter: Whether a collector succeeded.", Kind::Gauge);
        for c in &self.enabled {
            let start = Instant::now();
            let before = out.len();
            let ok = match c.run(&self.ctx, &mut out) {
                Ok(()) => true,
                Err(e) => {
                    // A half-finished collector would export an inconsistent subset; drop it all.
                    out.truncate(before);
                    errors.push((c.name(), e));
                    false
                }
            };
            duration.push(&[("collector", c.name())], start.elapsed().as_secs_f64());
            success.push(&[("collector", c.name())], if ok { 1.0 } else { 0.0 });
        }
        out.push(duration);
        out.push(success);
        out.retain(|f| !f.samples.is_empty());
        out.sort_by(|a, b| a.name.cmp(&b.name));
        (out, errors)
    }

    /// Collects and appends the text exposition (format 0.0.4, with `# HELP` and `# TYPE`) to `out`.
    pub fn render_text(&self, out: &mut String) {
        render::write_text(&self.collect(), out);
    }
}

/// Writes `families` as text exposition 0.0.4 to `out`.
pub fn write_text(families: &[Family], out: &mut String) {
    render::write_text(families, out);
}
