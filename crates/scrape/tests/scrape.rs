//! The scrape manager against real HTTP targets on loopback and a real TSDB.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vitals_model::{is_stale_nan, Matcher, Queryable, Sample};
use vitals_scrape::{GlobalConfig, Manager, ScrapeConfig};
use vitals_tsdb::{Db, Options};

/// A loopback HTTP server answering every request with the current page and content type.
struct Page {
    body: Mutex<(String, &'static str, u16)>,
}

async fn serve(page: Arc<Page>) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else { return };
            let page = page.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                let (body, ct, status) = page.body.lock().clone();
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    addr
}

fn samples(db: &Db, matchers: &[Matcher]) -> Vec<(String, Vec<Sample>)> {
    let q = db.querier(0, i64::MAX).unwrap();
    let mut out = Vec::new();
    for s in q.select(matchers, None).unwrap() {
        let mut it = s.iter();
        let mut v = Vec::new();
        while let Some(x) = it.next() {
            v.push(x);
        }
        out.push((s.labels().to_string(), v));
    }
    out
}

fn job(yaml: &str) -> ScrapeConfig {
    serde_norway::from_str(yaml).unwrap()
}

async fn wait_for(mut f: impl FnMut() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met in 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_marks_stale_and_reports_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let page = Arc::new(Page {
        body: Mutex::new((
            "# TYPE reqs counter\n# HELP reqs Requests.\nreqs{code=\"200\",job=\"inner\"} 5\nreqs{code=\"500\"} 1\n"
                .into(),
            "text/plain; version=0.0.4",
            200,
        )),
    });
    let addr = serve(page.clone()).await;
    let m = Manager::new(db.clone(), "vitals-test");
    let j = job(&format!(
        "job_name: app\nscrape_interval: 200ms\nscrape_timeout: 150ms\nstatic_configs: [{{targets: ['{addr}'], labels: {{env: prod}}}}]\nmetric_relabel_configs: [{{source_labels: [code], regex: '5..', action: drop}}]\n"
    ));
    m.apply(&GlobalConfig::default(), std::slice::from_ref(&j)).unwrap();
    let up = [Matcher::equal("__name__", "up")];
    wait_for(|| samples(&db, &up).first().is_some_and(|(_, s)| s.len() >= 2)).await;

    let got = samples(&db, &[Matcher::equal("__name__", "reqs")]);
    assert_eq!(got.len(), 1, "the 500 series is dropped by metric relabeling: {got:?}");
    assert_eq!(
        got[0].0,
        format!("reqs{{code=\"200\", env=\"prod\", exported_job=\"inner\", instance=\"{addr}\", job=\"app\"}}")
    );
    assert!(got[0].1.iter().all(|s| s.v == 5.0));
    let (name, up_samples) = &samples(&db, &up)[0];
    assert!(name.contains("job=\"app\""));
    assert!(up_samples.iter().all(|s| s.v == 1.0));
    for n in [
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ] {
        assert_eq!(samples(&db, &[Matcher::equal("__name__", n)]).len(), 1, "{n}");
    }
    let scraped = samples(&db, &[Matcher::equal("__name__", "scrape_samples_scraped")]);
    assert_eq!(scraped[0].1[0].v, 2.0);
    let post = samples(&db, &[Matcher::equal("__name__", "scrape_samples_post_metric_relabeling")]);
    assert_eq!(post[0].1[0].v, 1.0);
    let md = m.metadata();
    assert_eq!(md["reqs"][0].kind, "counter");
    assert_eq!(md["reqs"][0].help, "Requests.");

    // The series disappears from the page: a staleness marker follows.
    page.body.lock().0 = "other 1\n".into();
    wait_for(|| samples(&db, &[Matcher::equal("__name__", "reqs")])[0].1.last().is_some_and(|s| is_stale_nan(s.v)))
        .await;

    // A malformed page fails the scrape: up = 0, the error in the targets view, old series stale.
    page.body.lock().0 = "other{ 1\n".into();
    wait_for(|| m.targets().active_targets[0].health == "down").await;
    let view = m.targets();
    assert!(view.active_targets[0].last_error.contains("parsing"), "{}", view.active_targets[0].last_error);
    wait_for(|| samples(&db, &[Matcher::equal("__name__", "other")])[0].1.last().is_some_and(|s| is_stale_nan(s.v)))
        .await;
    wait_for(|| samples(&db, &up)[0].1.last().is_some_and(|s| s.v == 0.0)).await;

    // An HTTP error is a failed scrape too.
    *page.body.lock() = ("x 1\n".into(), "text/plain", 503);
    wait_for(|| m.targets().active_targets[0].last_error.contains("503")).await;

    // The target goes away on reload: its report series are marked stale.
    *page.body.lock() = ("x 1\n".into(), "text/plain", 200);
    wait_for(|| m.targets().active_targets[0].health == "up").await;
    m.apply(&GlobalConfig::default(), &[]).unwrap();
    wait_for(|| samples(&db, &up)[0].1.last().is_some_and(|s| is_stale_nan(s.v))).await;
    assert!(m.targets().active_targets.is_empty());
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openmetrics_sample_limit_and_file_sd() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("data"), Options::default()).unwrap();
    let page = Arc::new(Page {
        body: Mutex::new((
            "# TYPE temp_celsius gauge\n# UNIT temp_celsius celsius\ntemp_celsius 21.5\n# EOF\n".into(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            200,
        )),
    });
    let addr = serve(page.clone()).await;
    let sd = dir.path().join("targets.json");
    std::fs::write(&sd, "[]").unwrap();
    let j = job(&format!(
        "job_name: om\nscrape_interval: 200ms\nscrape_timeout: 150ms\nsample_limit: 2\nfile_sd_configs: [{{files: ['{}']}}]\n",
        sd.display()
    ));
    let m = Manager::new(db.clone(), "vitals-test");
    m.apply(&GlobalConfig::default(), &[j]).unwrap();
    assert!(m.targets().active_targets.is_empty());
    std::fs::write(&sd, format!("[{{\"targets\": [\"{addr}\"], \"labels\": {{\"team\": \"a\"}}}}]")).unwrap();
    wait_for(|| m.targets().active_targets.first().is_some_and(|t| t.health == "up")).await;
    let got = samples(&db, &[Matcher::equal("__name__", "temp_celsius")]);
    assert!(got[0].0.contains("team=\"a\""), "{got:?}");
    assert_eq!(m.metadata()["temp_celsius"][0].unit, "celsius");

    // Over the sample limit: the scrape fails as a whole.
    page.body.lock().0 = "a 1\nb 2\nc 3\n# EOF\n".into();
    wait_for(|| m.targets().active_targets[0].last_error.contains("sample limit")).await;
    assert!(samples(&db, &[Matcher::equal("__name__", "a")]).is_empty(), "nothing of a failed scrape is stored");

    // The file empties: the target is removed.
    std::fs::write(&sd, "[]").unwrap();
    wait_for(|| m.targets().active_targets.is_empty()).await;
    m.shutdown().await;
}

#[test]
fn config_errors_name_the_job_and_key() {
    let g = GlobalConfig::default();
    let bad = job("job_name: x\nscrape_interval: 5s\nscrape_timeout: 10s\n");
    let e = Manager::check(&g, &[bad]).unwrap_err().to_string();
    assert!(e.contains("\"x\"") && e.contains("scrape_timeout"), "{e}");
    let dup = [job("job_name: a\n"), job("job_name: a\n")];
    assert!(Manager::check(&g, &dup).unwrap_err().to_string().contains("used twice"));
    let e = serde_norway::from_str::<ScrapeConfig>("job_name: a\nscrape_intervl: 5s\n").unwrap_err().to_string();
    assert!(e.contains("scrape_intervl") && e.contains("line 2"), "{e}");
    let e = Manager::check(&g, &[job("job_name: a\nrelabel_configs: [{action: hashmod, source_labels: [a]}]\n")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("relabel_configs[0]"), "{e}");
}

/// A target answering with a gzip-compressed page holding UTF-8 metric and label names.
async fn serve_gzip(body: &'static str) -> String {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(body.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else { return };
            let gz = gz.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                // Only clients that accept gzip get it.
                assert!(req.contains("accept-encoding: gzip"), "{req}");
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    gz.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&gz).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_pages_and_utf8_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let addr = serve_gzip("{\"http.server.requests\", \"service.name\"=\"cart\"} 12\nplain_total 3\n").await;
    let m = Manager::new(db.clone(), "vitals-test");
    let j = job(&format!(
        "job_name: u\nscrape_interval: 200ms\nscrape_timeout: 150ms\nstatic_configs: [{{targets: ['{addr}']}}]\n"
    ));
    m.apply(&GlobalConfig::default(), &[j]).unwrap();
    wait_for(|| m.targets().active_targets.first().is_some_and(|t| t.health != "unknown")).await;
    assert_eq!(m.targets().active_targets[0].health, "up", "{}", m.targets().active_targets[0].last_error);
    let got = samples(&db, &[Matcher::equal("__name__", "http.server.requests")]);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1[0].v, 12.0);
    let l =
        db.querier(0, i64::MAX).unwrap().select(&[Matcher::equal("__name__", "http.server.requests")], None).unwrap();
    assert_eq!(l[0].labels().get("service.name"), Some("cart"));
    assert_eq!(samples(&db, &[Matcher::equal("__name__", "plain_total")])[0].1[0].v, 3.0);
    m.shutdown().await;
}
