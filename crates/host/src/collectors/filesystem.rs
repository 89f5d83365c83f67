//! `filesystem`: size, free space and inodes of each mounted filesystem (statfs), from the mount table.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{read, Context};
use crate::{Family, HostError, Kind};

/// One line of /proc/<pid>/mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub(crate) device: String,
    pub(crate) mount_point: String,
    pub(crate) fs_type: String,
    pub(crate) options: String,
}

pub(crate) fn collect(ctx: &Context, out: &mut Vec<Family>) -> Result<(), HostError> {
    // PID 1's mount table is the host's when we run in a container with the host's /proc;
    // node_exporter falls back to our own when it is not readable.
    let text = read(&ctx.proc("1/mounts")).or_else(|_| read(&ctx.proc("self/mounts")))?;
    let g = |name: &str, help: &str| Family::new(format!("node_filesystem_{name}"), help, Kind::Gauge);
    let mut device_error =
        g("device_error", "Whether an error occurred while getting statistics for the given device.");
    let mut size = g("size_bytes", "Filesystem size in bytes.");
    let mut free = g("free_bytes", "Filesystem free space in bytes.");
    let mut avail = g("avail_bytes", "Filesystem space available to non-root users in bytes.");
    let mut files = g("files", "Filesystem total file nodes.");
    let mut files_free = g("files_free", "Filesystem total free file nodes.");
    let mut readonly = g("readonly", "Filesystem read-only status.");
    let mut seen = HashSet::new();
    for m in parse_mounts(&text, &ctx.opts.rootfs) {
        if ctx.mount_points_exclude.is_match(&m.mount_point) || ctx.fs_types_exclude.is_match(&m.fs_type) {
            continue;
        }
        if !seen.insert((m.device.clone(), m.mount_point.clone(), m.fs_type.clone())) {
            continue;
        }
        let labels = [("device", m.device.as_str()), ("fstype", m.fs_type.as_str()), ("mountpoint", &m.mount_point)];
        let Ok(st) = rustix::fs::statvfs(rootfs_path(&ctx.opts.rootfs, &m.mount_point)) else {
            device_error.push(&labels, 1.0);
            continue;
        };
        device_error.push(&labels, 0.0);
        // statfs' f_bsize, as node_exporter uses, not f_frsize.
        let bsize = st.f_bsize as f64;
        size.push(&labels, st.f_blocks as f64 * bsize);
        free.push(&labels, st.f_bfree as f64 * bsize);
        avail.push(&labels, st.f_bavail as f64 * bsize);
        files.push(&labels, st.f_files as f64);
        files_free.push(&labels, st.f_ffree as f64);
        let ro = m.options.split(',').any(|o| o == "ro");
        readonly.push(&labels, if ro { 1.0 } else { 0.0 });
    }
    out.extend([device_error, size, free, avail, files, files_free, readonly]);
    Ok(())
}

/// Mounts of a mounts file, with `\040`-style escapes decoded and a leading `rootfs` stripped from
/// mount points (a container's own view); others are kept as the host's view (host PID namespace).
pub(crate) fn parse_mounts(text: &str, rootfs: &Path) -> Vec<Mount> {
    let root = rootfs.to_string_lossy();
    let root = root.trim_end_matches('/');
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_ascii_whitespace();
            let (device, mount_point, fs_type, options) = (f.next()?, f.next()?, f.next()?, f.next()?);
            let mount_point = unescape(mount_point);
            let mount_point = match mount_point.strip_prefix(root) {
                Some("") if !root.is_empty() => "/".to_string(),
                Some(rest) if !root.is_empty() && rest.starts_with('/') => rest.to_string(),
                _ => mount_point,
            };
            Some(Mount {
                device: unescape(device),
                mount_point,
                fs_type: fs_type.to_string(),
                options: options.to_string(),
            })
        })
        .collect()
}

/// Where `mount_point` (as labelled) is reachable from this process.
fn rootfs_path(rootfs: &Path, mount_point: &str) -> PathBuf {
    rootfs.join(mount_point.trim_start_matches('/'))
}

/// Decodes the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash).
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_unescapes_mounts() {
        let text = "/dev/vda / ext4 rw,relatime 0 0\n/dev/sdb1 /mnt/my\\040disk vfat ro 0 0\nbroken\n";
        let m = parse_mounts(text, Path::new("/"));
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].mount_point, "/mnt/my disk");
        assert_eq!(m[1].options, "ro");
    }

    #[test]
    fn strips_rootfs_prefix() {
        let text = "/dev/vda /host ext4 rw 0 0\n/dev/vdb /host/data xfs rw 0 0\n/dev/vdc /hostile xfs rw 0 0\n";
        let m = parse_mounts(text, Path::new("/host"));
        let points: Vec<_> = m.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(points, ["/", "/data", "/hostile"]);
        assert_eq!(rootfs_path(Path::new("/host"), "/data"), Path::new("/host/data"));
    }
}
