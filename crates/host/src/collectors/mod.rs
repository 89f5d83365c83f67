//! One module per node_exporter collector; each reads its files and appends families.

mod cpu;
mod diskstats;
mod filesystem;
mod kernel;
mod meminfo;
mod netdev;
mod netstat;
mod pressure;
mod stat;

use std::path::{Path, PathBuf};

use regex::Regex;

use crate::{Family, HostError, HostOptions};

/// Options with compiled regexes and values looked up once.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) opts: HostOptions,
    pub(crate) mount_points_exclude: Regex,
    pub(crate) fs_types_exclude: Regex,
    pub(crate) disk_exclude: Regex,
    pub(crate) netdev_exclude: Option<Regex>,
    pub(crate) netstat_fields: Regex,
    pub(crate) vmstat_fields: Regex,
    /// Kernel clock ticks per second (USER_HZ), the unit of /proc/stat's CPU times.
    pub(crate) user_hz: f64,
}

impl Context {
    pub(crate) fn new(opts: HostOptions) -> Result<Self, HostError> {
        let re = |option: &'static str, s: &str| Regex::new(s).map_err(|source| HostError::Regex { option, source });
        Ok(Context {
            mount_points_exclude: re("filesystem_mount_points_exclude", &opts.filesystem_mount_points_exclude)?,
            fs_types_exclude: re("filesystem_fs_types_exclude", &opts.filesystem_fs_types_exclude)?,
            disk_exclude: re("diskstats_device_exclude", &opts.diskstats_device_exclude)?,
            netdev_exclude: match opts.netdev_device_exclude.as_str() {
                "" => None,
                s => Some(re("netdev_device_exclude", s)?),
            },
            netstat_fields: re("netstat_fields", &opts.netstat_fields)?,
            vmstat_fields: re("vmstat_fields", &opts.vmstat_fields)?,
            user_hz: rustix::param::clock_ticks_per_second() as f64,
            opts,
        })
    }

    /// A path under the procfs mount point.
    pub(crate) fn proc(&self, rel: &str) -> PathBuf {
        self.opts.proc_path.join(rel)
    }

    /// A path under the sysfs mount point.
    pub(crate) fn sys(&self, rel: &str) -> PathBuf {
        self.opts.sys_path.join(rel)
    }
}

/// A collector, named as in node_exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Collector {
    Cpu,
    Diskstats,
    Filefd,
    Filesystem,
    Loadavg,
    Meminfo,
    Netdev,
    Netstat,
    Pressure,
    Stat,
    Time,
    Uname,
    Vmstat,
}

impl Collector {
    pub(crate) fn by_name(name: &str) -> Option<Self> {
        Some(match name {
            "cpu" => Collector::Cpu,
            "diskstats" => Collector::Diskstats,
            "filefd" => Collector::Filefd,
            "filesystem" => Collector::Filesystem,
            "loadavg" => Collector::Loadavg,
            "meminfo" => Collector::Meminfo,
            "netdev" => Collector::Netdev,
            "netstat" => Collector::Netstat,
            "pressure" => Collector::Pressure,
            "stat" => Collector::Stat,
            "time" => Collector::Time,
            "uname" => Collector::Uname,
            "vmstat" => Collector::Vmstat,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Collector::Cpu => "cpu",
            Collector::Diskstats => "diskstats",
            Collector::Filefd => "filefd",
            Collector::Filesystem => "filesystem",
            Collector::Loadavg => "loadavg",
            Collector::Meminfo => "meminfo",
            Collector::Netdev => "netdev",
            Collector::Netstat => "netstat",
            Collector::Pressure => "pressure",
            Collector::Stat => "stat",
            Collector::Time => "time",
            Collector::Uname => "uname",
            Collector::Vmstat => "vmstat",
        }
    }

    pub(crate) fn run(self, ctx: &Context, out: &mut Vec<Family>) -> Result<(), HostError> {
        match self {
            Collector::Cpu => cpu::collect(ctx, out),
            Collector::Diskstats => diskstats::collect(ctx, out),
            Collector::Filefd => kernel::filefd(ctx, out),
            Collector::Filesystem => filesystem::collect(ctx, out),
            Collector::Loadavg => kernel::loadavg(ctx, out),
            Collector::Meminfo => meminfo::collect(ctx, out),
            Collector::Netdev => netdev::collect(ctx, out),
            Collector::Netstat => netstat::collect(ctx, out),
            Collector::Pressure => pressure::collect(ctx, out),
            Collector::Stat => stat::collect(ctx, out),
            Collector::Time => kernel::time(ctx, out),
            Collector::Uname => kernel::uname(out),
            Collector::Vmstat => kernel::vmstat(ctx, out),
        }
    }
}

/// Reads a whole (small) file as text.
pub(crate) fn read(path: &Path) -> Result<String, HostError> {
    std::fs::read_to_string(path).map_err(|source| HostError::Io { path: path.to_path_buf(), source })
}

/// A parse error about `path`.
pub(crate) fn parse_err(path: &Path, msg: impl Into<String>) -> HostError {
    HostError::Parse { path: path.to_path_buf(), msg: msg.into() }
}

/// Parses a number field of `path`, failing with the field's text in the message.
pub(crate) fn num(path: &Path, s: &str) -> Result<f64, HostError> {
    s.parse::<f64>().map_err(|_| parse_err(path, format!("invalid number {s:?}")))
}
