//! The remote_write sender against a real loopback HTTP receiver.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{start, wait_for, Receiver};
use vitals_model::{Labels, PromDuration};
use vitals_remote::{QueueManager, QueueOptions, RemoteWriteConfig};

fn config(url: &str) -> RemoteWriteConfig {
    let mut c = RemoteWriteConfig::new(url);
    c.name = Some("test".into());
    c.queue_config.max_samples_per_send = 100;
    c.queue_config.capacity = 200;
    c.queue_config.batch_send_deadline = PromDuration(Duration::from_millis(20));
    c.queue_config.min_backoff = PromDuration(Duration::from_millis(5));
    c.queue_config.max_backoff = PromDuration(Duration::from_millis(50));
    c
}

fn key(name: &str, i: usize) -> String {
    format!("__name__={name:?},i=\"{i}\"")
}

fn define(q: &QueueManager, n: usize) {
    q.store_series((0..n).map(|i| (i as u64 + 1, Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]))));
}

async fn drained(q: &QueueManager) {
    assert!(wait_for(Duration::from_secs(20), || q.pending() == 0).await, "queue did not drain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_arrives_once_and_in_order_per_series() {
    let r = Arc::new(Receiver::default());
    let url = start(r.clone()).await;
    let q = QueueManager::new(&config(&url), QueueOptions::default()).unwrap();
    let (series, per_series) = (20usize, 500i64);
    define(&q, series);
    // Interleaved like a WAL: one sample per series per "scrape"; capacity (200 per shard) is far
    // smaller than the 10000 samples, so this also exercises backpressure.
    let mut last = 0;
    for t in 0..per_series {
        last = q.append((0..series).map(|i| (i as u64 + 1, t * 1000, t as f64))).await;
    }
    assert_eq!(last, series as u64 * per_series as u64);
    drained(&q).await;
    assert_eq!(q.sent_through(), last);
    let got = r.series.lock().clone();
    assert_eq!(got.len(), series);
    for i in 0..series {
        let s = &got[&key("m", i)];
        let want: Vec<(i64, f64)> = (0..per_series).map(|t| (t * 1000, t as f64)).collect();
        assert_eq!(s, &want, "series {i}");
    }
    assert!(r.bad_headers.lock().is_empty(), "{:?}", r.bad_headers.lock());
    let mut text = String::new();
    q.render_metrics(&mut text);
    assert!(text.contains("vitals_remote_storage_samples_total{remote_name=\"test\",url=\""), "{text}");
    assert!(text.contains("} 10000\n"), "{text}");
    assert!(text.contains("vitals_remote_storage_queue_highest_sent_timestamp_seconds{"));
    assert!(text.contains("vitals_remote_storage_sent_batch_duration_seconds_count{"));
    q.stop(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_until_accepted() {
    let r = Arc::new(Receiver::default());
    r.script.lock().extend([(503, None), (503, None)]);
    let url = start(r.clone()).await;
    let mut c = config(&url);
    c.queue_config.max_shards = 1;
    let q = QueueManager::new(&c, QueueOptions::default()).unwrap();
    define(&q, 1);
    q.append((0..10).map(|t| (1, t, t as f64))).await;
    drained(&q).await;
    assert_eq!(r.series.lock()[&key("m", 0)].len(), 10, "each sample exactly once");
    assert_eq!(*r.requests.lock(), 3);
    let m = q.metrics();
    assert_eq!(m.samples_retried.load(std::sync::atomic::Ordering::Relaxed), 20);
    assert_eq!(m.samples.load(std::sync::atomic::Ordering::Relaxed), 10);
    assert_eq!(m.samples_failed.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_drop_the_batch() {
    let r = Arc::new(Receiver::default());
    r.script.lock().push_back((400, None));
    let url = start(r.clone()).await;
    let mut c = config(&url);
    c.queue_config.max_shards = 1;
    let q = QueueManager::new(&c, QueueOptions::default()).unwrap();
    define(&q, 1);
    let first = q.append((0..10).map(|t| (1, t, 1.0))).await;
    drained(&q).await;
    assert_eq!(q.sent_through(), first, "a dropped batch counts as done");
    q.append((10..15).map(|t| (1, t, 1.0))).await;
    drained(&q).await;
    assert_eq!(r.series.lock()[&key("m", 0)].iter().map(|s| s.0).collect::<Vec<_>>(), (10..15).collect::<Vec<_>>());
    assert_eq!(q.metrics().samples_failed.load(std::sync::atomic::Ordering::Relaxed), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_is_retried_after_retry_after() {
    let r = Arc::new(Receiver::default());
    r.script.lock().push_back((429, Some(1)));
    let url = start(r.clone()).await;
    let mut c = config(&url);
    c.queue_config.max_shards = 1;
    let q = QueueManager::new(&c, QueueOptions::default()).unwrap();
    define(&q, 1);
    let start_t = Instant::now();
    q.append((0..5).map(|t| (1, t, 1.0))).await;
    drained(&q).await;
    assert!(start_t.elapsed() >= Duration::from_secs(1), "Retry-After: 1 must be honoured");
    assert_eq!(r.total(), 5);

    // With retry_on_http_429 off, a 429 drops the batch.
    let r = Arc::new(Receiver::default());
    r.script.lock().push_back((429, None));
    let url = start(r.clone()).await;
    let mut c = config(&url);
    c.queue_config.max_shards = 1;
    c.queue_config.retry_on_http_429 = false;
    let q = QueueManager::new(&c, QueueOptions::default()).unwrap();
    define(&q, 1);
    q.append((0..5).map(|t| (1, t, 1.0))).await;
    drained(&q).await;
    assert_eq!(r.total(), 0);
    assert_eq!(q.metrics().samples_failed.load(std::sync::atomic::Ordering::Relaxed), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relabeling_and_external_labels_apply_before_sending() {
    let r = Arc::new(Receiver::default());
    let url = start(r.clone()).await;
    let mut c = config(&url);
    c.write_relabel_configs = serde_norway::from_str("- source_labels: [i]\n  regex: '1'\n  action: drop\n").unwrap();
    let opts = QueueOptions { external_labels: Labels::from_pairs([("cluster", "eu")]), ..Default::default() };
    let q = QueueManager::new(&c, opts).unwrap();
    define(&q, 2);
    q.append([(1, 1, 1.0), (2, 1, 1.0), (99, 1, 1.0)]).await;
    drained(&q).await;
    let got = r.series.lock().clone();
    assert_eq!(got.keys().collect::<Vec<_>>(), vec!["__name__=\"m\",cluster=\"eu\",i=\"0\""]);
    let m = q.metrics();
    assert_eq!(m.samples_dropped_relabel.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(m.samples_dropped_unknown_series.load(std::sync::atomic::Ordering::Relaxed), 1);
}
