//! Real peers on loopback for the notifier's tests: an HTTP receiver that records requests and an
//! SMTP server that records messages.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use vitals_model::Labels;
use vitals_notify::Alert;

/// One request the HTTP receiver got.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// An HTTP/1.1 server recording every request; answers 200 unless statuses are queued.
#[derive(Clone)]
pub struct HttpReceiver {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
}

impl HttpReceiver {
    pub async fn start() -> HttpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let r = HttpReceiver { url, requests: Default::default(), statuses: Default::default() };
        let me = r.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                let me = me.clone();
                tokio::spawn(async move {
                    let mut rd = BufReader::new(sock);
                    loop {
                        let mut line = String::new();
                        if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                        let mut headers = Vec::new();
                        let mut len = 0;
                        loop {
                            let mut h = String::new();
                            rd.read_line(&mut h).await.unwrap();
                            let h = h.trim_end();
                            if h.is_empty() {
                                break;
                            }
                            let (k, v) = h.split_once(':').unwrap();
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse().unwrap();
                            }
                            headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
                        }
                        let mut body = vec![0; len];
                        rd.read_exact(&mut body).await.unwrap();
                        let req = Request { path, headers, body: String::from_utf8(body).unwrap(), at: Instant::now() };
                        let status = me.statuses.lock().pop_front().unwrap_or(200);
                        me.requests.lock().push(req);
                        let resp = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                        if rd.get_mut().write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        r
    }

    /// Answers the next requests with these statuses.
    pub fn queue_statuses(&self, s: &[u16]) {
        self.statuses.lock().extend(s.iter().copied());
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().clone()
    }

    pub fn on(&self, path: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// Waits until `n` requests arrived on `path` (panics after `timeout`).
    pub async fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Request> {
        let end = Instant::now() + timeout;
        loop {
            let got = self.on(path);
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < end, "waited {timeout:?} for {n} requests on {path}, got {}", got.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One message the SMTP server accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    pub helo: String,
    pub auth: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A minimal SMTP server (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT); no STARTTLS.
#[derive(Clone)]
pub struct SmtpServer {
    pub addr: String,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let s = SmtpServer { addr: listener.local_addr().unwrap().to_string(), mails: Default::default() };
        let mails = s.mails.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                let mails = mails.clone();
                tokio::spawn(async move {
                    let mut rd = BufReader::new(sock);
                    let mut m = Mail {
                        helo: String::new(),
                        auth: None,
                        from: String::new(),
                        to: Vec::new(),
                        data: String::new(),
                    };
                    rd.get_mut().write_all(b"220 localhost ESMTP test\r\n").await.unwrap();
                    loop {
                        let mut line = String::new();
                        if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let cmd = line.trim_end().to_string();
                        let upper = cmd.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                            m.helo = cmd[5..].to_string();
                            b"250-localhost\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("AUTH PLAIN") {
                            m.auth = Some(cmd[11..].trim().to_string());
                            b"235 2.7.0 ok\r\n"
                        } else if upper.starts_with("MAIL FROM:") {
                            m.from = cmd[10..].split_whitespace().next().unwrap_or("").to_string();
                            b"250 ok\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            m.to.push(cmd[8..].trim().to_string());
                            b"250 ok\r\n"
                        } else if upper == "DATA" {
                            rd.get_mut().write_all(b"354 go ahead\r\n").await.unwrap();
                            let mut data = String::new();
                            loop {
                                let mut l = String::new();
                                rd.read_line(&mut l).await.unwrap();
                                if l == ".\r\n" {
                                    break;
                                }
                                data.push_str(&l);
                            }
                            m.data = data;
                            mails.lock().push(m.clone());
                            b"250 queued\r\n"
                        } else if upper == "QUIT" {
                            let _ = rd.get_mut().write_all(b"221 bye\r\n").await;
                            return;
                        } else if upper == "RSET" || upper == "NOOP" {
                            b"250 ok\r\n"
                        } else {
                            b"502 not implemented\r\n"
                        };
                        rd.get_mut().write_all(reply).await.unwrap();
                    }
                });
            }
        });
        s
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().clone()
    }

    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let end = Instant::now() + timeout;
        loop {
            let got = self.mails();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < end, "waited {timeout:?} for {n} mails, got {}", got.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A firing alert that started at `starts_at`.
pub fn alert(labels: &[(&str, &str)], starts_at: SystemTime) -> Alert {
    Alert {
        labels: Labels::from_pairs(labels.iter().copied()),
        annotations: Labels::from_pairs([("summary", "it broke")]),
        starts_at,
        ends_at: None,
        generator_url: "http://vitals/graph?g0.expr=up&g0.tab=1".into(),
    }
}

/// A config YAML with a fast schedule; `{url}` is replaced by the receiver's base URL.
pub fn config(yaml: &str, url: &str) -> vitals_notify::NotifyConfig {
    vitals_notify::NotifyConfig::from_yaml(&yaml.replace("{url}", url)).unwrap()
}

/// Sleeps.
pub async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}
