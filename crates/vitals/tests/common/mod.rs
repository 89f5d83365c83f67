//! Starting the real `vitals` binary (and peers) on free loopback ports for process-level tests.
#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `vitals serve`, killed (SIGKILL) when dropped unless stopped first.
pub struct Vitals {
    pub child: Option<Child>,
    pub addr: String,
    pub dir: PathBuf,
    pub config: Option<PathBuf>,
    pub log: PathBuf,
}

impl Vitals {
    /// Starts `vitals serve` with `config` (written to `dir/vitals.yml`; `None` = no --config),
    /// storage in `dir/data`, on a free port, plus `extra` arguments; waits until `/-/ready`.
    pub fn start(dir: &Path, config: Option<&str>, extra: &[&str]) -> Vitals {
        let port = free_port();
        Self::start_on(dir, config, extra, port)
    }

    /// Like [`Vitals::start`] on a given port (for restarts on the same address).
    pub fn start_on(dir: &Path, config: Option<&str>, extra: &[&str], port: u16) -> Vitals {
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitals"));
        cmd.arg("serve").arg("--listen").arg(&addr).arg("--storage.path").arg(dir.join("data"));
        let cfg_path = config.map(|c| {
            let p = dir.join("vitals.yml");
            std::fs::write(&p, c).unwrap();
            p
        });
        if let Some(p) = &cfg_path {
            cmd.arg("--config").arg(p);
        }
        cmd.args(extra);
        let log = dir.join(format!("vitals-{port}.log"));
        let f = std::fs::File::create(&log).unwrap();
        cmd.stdout(Stdio::null()).stderr(f).env("RUST_LOG", "info");
        let child = cmd.spawn().expect("starting vitals");
        let mut v = Vitals { child: Some(child), addr, dir: dir.to_path_buf(), config: cfg_path, log };
        v.wait_ready();
        v
    }

    /// Waits up to 30 s for `/-/ready` to answer 200.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("vitals exited with {status}: {}", self.log_text());
                }
            }
            if http_get(&format!("http://{}/-/ready", self.addr)).is_ok_and(|(code, _)| code == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("vitals not ready after 30 s: {}", self.log_text());
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process' log so far.
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Sends a signal to the process.
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id();
        let st = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().unwrap();
        assert!(st.success());
    }

    /// SIGTERM, then waits for exit; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        self.signal("TERM");
        let mut c = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                panic!("vitals did not stop within 30 s of SIGTERM: {}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Instant query through the storage for tests: the samples of `series_matcher` via the
    /// export endpoint is not available yet, so tests read the data directory after stopping.
    pub fn dir_data(&self) -> PathBuf {
        self.dir.join("data")
    }
}

impl Drop for Vitals {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A minimal blocking HTTP/1.1 GET: (status, body).
pub fn http_get(url: &str) -> Result<(u16, String), String> {
    http("GET", url, &[], &[])
}

/// A minimal blocking HTTP/1.1 request: (status, body). Only `http://host:port/path` URLs.
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<(u16, String), String> {
    use std::io::Write;
    let rest = url.strip_prefix("http://").ok_or("only http://")?;
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    s.write_all(body).map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&resp).to_string();
    let code: u16 = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or("bad response")?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    Ok((code, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(len.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// Polls `f` every 100 ms for up to `secs` seconds; panics with `what` if it never holds.
pub fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {secs} s waiting for: {what}");
}

/// Whether a peer binary is on PATH. In CI (`CI=true`) a missing peer is a test failure, not a skip.
pub fn have_peer(bin: &str) -> bool {
    let found =
        Command::new("sh").arg("-c").arg(format!("command -v {bin}")).output().is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("peer {bin} is not installed; .ci/run should have installed it");
        }
        eprintln!("SKIPPED: {bin} is not installed (apt-get install it to run this test)");
    }
    found
}

/// A peer process (Prometheus, node exporter, a Python script…) started by a test, with its
/// stdout and stderr in a log file; killed (SIGKILL) when dropped unless stopped first, so a
/// panicking test leaves nothing running.
pub struct Peer {
    pub name: String,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Peer {
    /// Spawns `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Peer {
        let f = std::fs::File::create(log).unwrap();
        cmd.stdin(Stdio::null()).stdout(f.try_clone().unwrap()).stderr(f);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Peer { name: name.to_string(), child: Some(child), log: log.to_path_buf() }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("peer already stopped").id()
    }

    /// Panics (with the log) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(st)) = c.try_wait() {
                panic!("{} exited with {st}: {}", self.name, self.log_text());
            }
        }
    }

    /// Waits up to `secs` for `url` to answer 200, failing early if the process exits.
    pub fn wait_http_ok(&mut self, url: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            self.assert_running();
            if http_get(url).is_ok_and(|(c, _)| c == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{}: {url} not answering 200 after {secs} s: {}", self.name, self.log_text());
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then waits up to 60 s for the exit; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("{} did not stop within 60 s of SIGTERM: {}", self.name, self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Percent-encodes a query-string value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every series of a (stopped) vitals data directory matching `matchers`, keyed by the series'
/// labels in Prometheus notation, with all their samples (staleness markers included).
pub fn stored_samples(
    data_dir: &Path,
    matchers: &[vitals_model::Matcher],
) -> std::collections::BTreeMap<String, Vec<vitals_model::Sample>> {
    use vitals_model::Queryable;
    let db = vitals_tsdb::Db::open(data_dir, vitals_tsdb::Options::default()).expect("opening vitals' data directory");
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for s in q.select(matchers, None).unwrap() {
        let mut it = s.iter();
        let mut v = Vec::new();
        while let Some(x) = it.next() {
            v.push(x);
        }
        out.insert(s.labels().to_string(), v);
    }
    out
}

/// The Python interpreter for peer scripts (`$VITALS_PYTHON`, else `python3`) if it can import
/// all of `modules`; otherwise `None` and a SKIPPED message (a panic under `CI=true`).
pub fn python_with(modules: &[&str]) -> Option<String> {
    let py = std::env::var("VITALS_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".into());
    let script = modules.iter().map(|m| format!("import {m}")).collect::<Vec<_>>().join("; ");
    let ok = Command::new(&py).arg("-c").arg(&script).output().is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{py} cannot import {modules:?}; .ci/run should have installed them (VITALS_PYTHON)");
        }
        eprintln!("SKIPPED: {py} cannot import {modules:?} (set VITALS_PYTHON to a venv that has them)");
        return None;
    }
    Some(py)
}
