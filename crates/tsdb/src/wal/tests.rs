//! Tests of the log as a whole: replay, recovery from damage, checkpoints, rotation, group commit.

use super::*;
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;

fn opts(segment_size: u64) -> WalOptions {
    WalOptions { segment_size, sync: SyncMode::Always }
}

fn rec(i: usize) -> Vec<u8> {
    format!("record-{i:06};").repeat(1 + i % 5).into_bytes()
}

fn recs(range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    range.map(rec).collect()
}

fn open_collect(dir: &Path, o: WalOptions) -> (Wal, ReplayStats, Vec<Vec<u8>>) {
    let mut got = Vec::new();
    let (wal, stats) = Wal::open(dir, o, |r| {
        got.push(r.to_vec());
        Ok::<(), WalError>(())
    })
    .expect("open");
    (wal, stats, got)
}

fn log_all(wal: &Wal, records: &[Vec<u8>], batch: usize) {
    for chunk in records.chunks(batch) {
        let refs: Vec<&[u8]> = chunk.iter().map(|r| r.as_slice()).collect();
        wal.log(&refs).expect("log");
    }
}

fn seg(dir: &Path, n: u64) -> PathBuf {
    dir.join(segment::segment_name(n))
}

fn flip_bit(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).expect("read");
    bytes[offset as usize] ^= 0x10;
    fs::write(path, bytes).expect("write");
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).expect("list").map(|e| e.expect("entry").file_name().into_string().expect("utf8")).collect();
    v.sort();
    v
}

/// A tracing subscriber that keeps the fields of every warning.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct FieldText(String);

impl tracing::field::Visit for FieldText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut text = FieldText(String::new());
            event.record(&mut text);
            self.0.lock().push(text.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn open_capturing(dir: &Path, o: WalOptions) -> (Wal, ReplayStats, Vec<Vec<u8>>, Vec<String>) {
    let warnings = Warnings::default();
    let (wal, stats, got) = tracing::subscriber::with_default(warnings.clone(), || open_collect(dir, o));
    let w = warnings.0.lock().clone();
    (wal, stats, got, w)
}

#[test]
fn write_reopen_all_records_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, stats, got) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert_eq!((stats, got.len()), (ReplayStats::default(), 0));
    assert_eq!(wal.segments(), (1, 1));
    let first = recs(0..1000);
    log_all(&wal, &first, 7);
    wal.close().expect("close");

    let (wal, stats, got) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert_eq!(got, first);
    assert_eq!((stats.records, stats.segments, stats.truncated_bytes, stats.corruption), (1000, 1, 0, None));
    assert_eq!(wal.segments(), (1, 2), "reopening starts a new segment");
    let second = recs(1000..1100);
    log_all(&wal, &second, 1);
    drop(wal); // drop syncs too

    let (_wal, stats, got) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert_eq!(got, [first, second].concat());
    assert_eq!(stats.segments, 2);
}

#[test]
fn flipped_bit_in_last_segment_cuts_the_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    let first = recs(0..200);
    log_all(&wal, &first, 10);
    wal.close().expect("close");

    let path = seg(dir.path(), 1);
    let len = segment::file_len(&path).expect("len");
    flip_bit(&path, len / 2);

    let (wal, stats, got, warnings) = open_capturing(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert!(!got.is_empty() && got.len() < first.len(), "{}", got.len());
    assert_eq!(got, first[..got.len()]);
    let cut = segment::file_len(&path).expect("len");
    assert!(cut <= len / 2 && cut > len / 2 - 200, "truncated at {cut}");
    assert_eq!(stats.truncated_bytes, len - cut);
    assert!(stats.corruption.as_deref().is_some_and(|c| c.contains("CRC mismatch")), "{:?}", stats.corruption);
    assert!(
        warnings.iter().any(|w| w.contains("00000001") && w.contains(&format!("offset={cut}"))),
        "warnings: {warnings:?}"
    );

    let more = recs(500..520);
    log_all(&wal, &more, 3);
    wal.close().expect("close");
    let (_wal, stats, got2, warnings) = open_capturing(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert_eq!(got2, [got, more].concat());
    assert_eq!(stats.corruption, None);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn segment_cut_mid_record_is_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    let first = recs(0..50);
    log_all(&wal, &first, 1);
    wal.close().expect("close");

    let path = seg(dir.path(), 1);
    let len = segment::file_len(&path).expect("len");
    let file = OpenOptions::new().write(true).open(&path).expect("open");
    file.set_len(len - 7).expect("truncate");
    drop(file);

    let (wal, stats, got, warnings) = open_capturing(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert_eq!(got, first[..49]);
    assert_eq!(segment::file_len(&path).expect("len"), len - segment::framed_len(rec(49).len()));
    assert_eq!(stats.truncated_bytes, segment::framed_len(rec(49).len()) - 7);
    assert!(stats.corruption.as_deref().is_some_and(|c| c.contains("torn record")), "{:?}", stats.corruption);
    assert_eq!(warnings.len(), 1, "{warnings:?}");

    let more = recs(100..110);
    log_all(&wal, &more, 10);
    wal.close().expect("close");
    let (_wal, _, got2) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert_eq!(got2, [got, more].concat());
}

#[test]
fn torn_header_and_empty_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    log_all(&wal, &recs(0..5), 5);
    wal.close().expect("close");
    // Segment 2 is empty (zero bytes), segment 3 has a torn header.
    fs::write(seg(dir.path(), 2), b"").expect("write");
    fs::write(seg(dir.path(), 3), b"VWA").expect("write");
    let (wal, stats, got) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert_eq!(got, recs(0..5));
    assert_eq!((stats.segments, stats.truncated_bytes), (3, 3));
    assert_eq!(segment::file_len(&seg(dir.path(), 3)).expect("len"), 0);
    assert_eq!(wal.segments(), (1, 4));
}

#[test]
fn damage_in_an_earlier_segment_drops_later_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    log_all(&wal, &recs(0..100), 4);
    assert_eq!(wal.cut_segment().expect("cut"), 2);
    log_all(&wal, &recs(100..200), 4);
    assert_eq!(wal.cut_segment().expect("cut"), 3);
    log_all(&wal, &recs(200..300), 4);
    wal.close().expect("close");
    let len2 = segment::file_len(&seg(dir.path(), 2)).expect("len");
    let len3 = segment::file_len(&seg(dir.path(), 3)).expect("len");

    let path = seg(dir.path(), 1);
    let len = segment::file_len(&path).expect("len");
    flip_bit(&path, len / 3);
    let (wal, stats, got, warnings) = open_capturing(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert!(!got.is_empty() && got.len() < 100);
    assert_eq!(got, recs(0..got.len()));
    let cut = segment::file_len(&path).expect("len");
    assert_eq!(stats.truncated_bytes, len - cut + len2 + len3);
    assert!(!seg(dir.path(), 3).exists());
    assert_eq!(warnings.len(), 3, "one for the damage, one per removed segment: {warnings:?}");
    assert_eq!(wal.segments(), (1, 2), "writing continues right after the damaged segment");

    let more = recs(1000..1010);
    log_all(&wal, &more, 2);
    wal.close().expect("close");
    let (_wal, _, got2) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert_eq!(got2, [got, more].concat());
}

#[test]
fn missing_segment_is_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    log_all(&wal, &recs(0..10), 1);
    wal.cut_segment().expect("cut");
    log_all(&wal, &recs(10..20), 1);
    wal.cut_segment().expect("cut");
    log_all(&wal, &recs(20..30), 1);
    wal.close().expect("close");
    fs::remove_file(seg(dir.path(), 2)).expect("remove");
    let (wal, stats, got) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert_eq!(got, recs(0..10));
    assert!(stats.corruption.is_some_and(|c| c.contains("missing")));
    assert_eq!(wal.segments(), (1, 2));
}

#[test]
fn checkpoint_replaces_covered_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    log_all(&wal, &recs(0..50), 5);
    wal.cut_segment().expect("cut");
    log_all(&wal, &recs(50..80), 5);
    wal.cut_segment().expect("cut");
    log_all(&wal, &recs(80..100), 5);

    assert!(matches!(wal.checkpoint(3, &mut std::iter::empty()), Err(WalError::InvalidCheckpoint(_))));
    let ckpt = vec![b"ckpt-a".to_vec(), b"ckpt-b".to_vec()];
    wal.checkpoint(2, &mut ckpt.clone().into_iter()).expect("checkpoint");
    assert_eq!(files(dir.path()), ["00000003", "checkpoint.00000002"]);
    assert_eq!(wal.segments(), (3, 3));
    wal.sync().expect("sync");
    let on_disk: u64 = files(dir.path()).iter().map(|f| segment::file_len(&dir.path().join(f)).expect("len")).sum();
    assert_eq!(wal.size_bytes(), on_disk);
    assert!(matches!(wal.checkpoint(1, &mut std::iter::empty()), Err(WalError::InvalidCheckpoint(_))));
    wal.close().expect("close");

    let (wal, stats, got) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert_eq!(got, [ckpt.clone(), recs(80..100)].concat());
    assert_eq!((stats.checkpoint, stats.segments, stats.records), (Some(2), 1, 22));
    assert_eq!(wal.segments(), (3, 4));
    log_all(&wal, &recs(100..110), 5);

    // A second checkpoint replaces the first one.
    wal.checkpoint(3, &mut vec![b"ckpt-c".to_vec()].into_iter()).expect("checkpoint");
    assert_eq!(files(dir.path()), ["00000004", "checkpoint.00000003"]);
    wal.close().expect("close");

    // Leftovers of an interrupted checkpoint: a temp file, an older checkpoint, a covered segment.
    fs::write(dir.path().join("checkpoint.00000009.tmp"), b"partial").expect("write");
    fs::write(dir.path().join("checkpoint.00000001"), segment::file_header()).expect("write");
    fs::write(seg(dir.path(), 2), segment::file_header()).expect("write");
    let (_wal, stats, got) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert_eq!(got, [vec![b"ckpt-c".to_vec()], recs(100..110)].concat());
    assert_eq!(stats.corruption, None);
    assert_eq!(files(dir.path()), ["00000004", "00000005", "checkpoint.00000003"]);
}

#[test]
fn damaged_checkpoint_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    wal.cut_segment().expect("cut");
    wal.checkpoint(1, &mut vec![b"one".to_vec(), b"two".to_vec()].into_iter()).expect("checkpoint");
    wal.close().expect("close");
    let path = dir.path().join("checkpoint.00000001");
    flip_bit(&path, 20);
    let err = Wal::open(dir.path(), opts(DEFAULT_SEGMENT_SIZE), |_| Ok::<(), WalError>(())).expect_err("corrupt");
    assert!(matches!(err, WalError::Corrupt { .. }), "{err}");
    assert!(path.exists(), "a damaged checkpoint is left for inspection");
    fs::write(&path, b"").expect("write");
    let err = Wal::open(dir.path(), opts(DEFAULT_SEGMENT_SIZE), |_| Ok::<(), WalError>(())).expect_err("empty");
    assert!(matches!(err, WalError::Corrupt { .. }), "{err}");
}

#[test]
fn replay_callback_error_aborts_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    log_all(&wal, &recs(0..10), 1);
    wal.close().expect("close");
    let len = segment::file_len(&seg(dir.path(), 1)).expect("len");
    let mut n = 0;
    let err = Wal::open(dir.path(), opts(DEFAULT_SEGMENT_SIZE), |_| {
        n += 1;
        if n == 4 {
            Err("bad record")
        } else {
            Ok(())
        }
    })
    .expect_err("callback error");
    assert!(matches!(&err, WalError::Replay { .. }), "{err}");
    assert_eq!(segment::file_len(&seg(dir.path(), 1)).expect("len"), len, "nothing truncated");
    assert!(!seg(dir.path(), 2).exists(), "nothing opened for writing");
}

#[test]
fn segments_rotate_by_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open_collect(dir.path(), opts(1024));
    let all = recs(0..300);
    log_all(&wal, &all, 3);
    let (first, last) = wal.segments();
    assert_eq!(first, 1);
    assert!(last > 10, "{last} segments");
    // A batch larger than a segment goes into a segment of its own.
    let big = vec![vec![7u8; 3000]];
    log_all(&wal, &big, 1);
    assert_eq!(wal.segments().1, last + 1);
    log_all(&wal, &recs(300..301), 1);
    assert_eq!(wal.segments().1, last + 2);
    wal.close().expect("close");
    for n in 1..=last {
        let len = segment::file_len(&seg(dir.path(), n)).expect("len");
        assert!(len <= 1024 && len > 512, "segment {n} has {len} bytes");
    }
    let (_wal, stats, got) = open_collect(dir.path(), opts(1024));
    assert_eq!(got, [all, big, recs(300..301)].concat());
    assert_eq!(stats.segments, last + 2);
}

#[test]
fn group_commit_shares_fsyncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    let fsyncs = Arc::new(AtomicU64::new(0));
    let counter = fsyncs.clone();
    wal.set_fsync_observer(Box::new(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    }));
    let wal = Arc::new(wal);
    const THREADS: usize = 8;
    const CALLS: usize = 200;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let wal = wal.clone();
            s.spawn(move || {
                for i in 0..CALLS {
                    let r = format!("t{t}-{i}");
                    wal.log(&[r.as_bytes(), b"second of batch"]).expect("log");
                }
            });
        }
    });
    let fsyncs = fsyncs.load(Ordering::Relaxed);
    let calls = (THREADS * CALLS) as u64;
    eprintln!("group commit: {calls} log() calls, {fsyncs} fsyncs");
    assert!(fsyncs > 0 && fsyncs < calls, "{fsyncs} fsyncs for {calls} calls");
    let wal = Arc::try_unwrap(wal).expect("sole owner");
    wal.close().expect("close");

    let (_wal, _, got) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    assert_eq!(got.len(), THREADS * CALLS * 2);
    let mut next = [0usize; THREADS];
    for pair in got.chunks(2) {
        assert_eq!(pair[1], b"second of batch", "a batch is contiguous");
        let s = std::str::from_utf8(&pair[0]).expect("utf8");
        let (t, i) = s[1..].split_once('-').expect("format");
        let (t, i): (usize, usize) = (t.parse().expect("t"), i.parse().expect("i"));
        assert_eq!(next[t], i, "per-thread order");
        next[t] += 1;
    }
}

#[test]
fn interval_mode_syncs_in_background() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = WalOptions { segment_size: DEFAULT_SEGMENT_SIZE, sync: SyncMode::Interval(Duration::from_millis(10)) };
    let (wal, _, _) = open_collect(dir.path(), o.clone());
    let fsyncs = Arc::new(AtomicU64::new(0));
    let counter = fsyncs.clone();
    wal.set_fsync_observer(Box::new(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    }));
    let all = recs(0..100);
    log_all(&wal, &all, 10);
    // Written (not necessarily synced) before log() returned.
    assert_eq!(segment::file_len(&seg(dir.path(), 1)).expect("len"), wal.size_bytes());
    let deadline = Instant::now() + Duration::from_secs(10);
    while fsyncs.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(fsyncs.load(Ordering::Relaxed) > 0, "background fsync ran");
    wal.close().expect("close");
    assert!(Wal::open(dir.path(), WalOptions { sync: SyncMode::Interval(Duration::ZERO), ..o.clone() }, |_| {
        Ok::<(), WalError>(())
    })
    .is_err());
    let (_wal, _, got) = open_collect(dir.path(), o);
    assert_eq!(got, all);
}

#[test]
fn oversized_record_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    let big = vec![0u8; MAX_RECORD_LEN + 1];
    assert!(matches!(wal.log(&[b"ok", &big]), Err(WalError::RecordTooLarge { .. })));
    wal.log(&[b"still usable"]).expect("log");
}

#[test]
fn codec_records_through_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
    let series = Record::Series(vec![RefSeries {
        r: 1,
        labels: vitals_model::Labels::from_pairs([("__name__", "up"), ("job", "a")]),
    }]);
    let samples = Record::Samples(vec![RefSample { r: 1, t: 1000, v: 1.0 }, RefSample { r: 1, t: 2000, v: 0.0 }]);
    let tombs = Record::Tombstones(vec![Tombstone { r: 1, mint: 0, maxt: 1500 }]);
    let mut bufs = vec![Vec::new(), Vec::new(), Vec::new()];
    for (rec, buf) in [&series, &samples, &tombs].into_iter().zip(bufs.iter_mut()) {
        record::encode(rec, buf);
    }
    log_all(&wal, &bufs, 3);
    wal.close().expect("close");
    let mut got = Vec::new();
    let (_wal, _) = Wal::open(dir.path(), opts(DEFAULT_SEGMENT_SIZE), |r| {
        got.push(record::decode(r)?);
        Ok::<(), WalError>(())
    })
    .expect("open");
    assert_eq!(got, [series, samples, tombs]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Whatever happens to the bytes of a segment, open recovers a prefix of what was written.
    #[test]
    fn open_recovers_a_prefix_of_any_damaged_segment(
        n in 1usize..40,
        edits in proptest::collection::vec((proptest::prelude::any::<u16>(), proptest::prelude::any::<u8>()), 0..4),
        cut in proptest::option::of(proptest::prelude::any::<u16>()),
        tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (wal, _, _) = open_collect(dir.path(), opts(DEFAULT_SEGMENT_SIZE));
        let written = recs(0..n);
        log_all(&wal, &written, 3);
        wal.close().expect("close");
        let path = seg(dir.path(), 1);
        let mut bytes = fs::read(&path).expect("read");
        for (at, val) in edits {
            let i = at as usize % bytes.len();
            bytes[i] = val;
        }
        if let Some(c) = cut {
            bytes.truncate(c as usize % (bytes.len() + 1));
        }
        bytes.extend_from_slice(&tail);
        fs::write(&path, &bytes).expect("write");

        let warnings = Warnings::default();
        let res = tracing::subscriber::with_default(warnings, || {
            let mut got = Vec::new();
            Wal::open(dir.path(), opts(DEFAULT_SEGMENT_SIZE), |r| {
                got.push(r.to_vec());
                Ok::<(), WalError>(())
            })
            .map(|(wal, stats)| (wal, stats, got))
        });
        match res {
            Ok((wal, stats, got)) => {
                proptest::prop_assert!(got.len() <= n);
                proptest::prop_assert_eq!(&got[..], &written[..got.len()]);
                proptest::prop_assert_eq!(stats.records, got.len() as u64);
                wal.close().expect("close");
            }
            // An edit of the version byte is the one thing that is refused rather than cut.
            Err(WalError::UnsupportedVersion { .. }) => {}
            Err(e) => proptest::prop_assert!(false, "open failed: {}", e),
        }
    }
}

/// Throughput of `log()` with 1000-sample records from 4 threads in `SyncMode::Always`.
/// Run: `cargo test --release -- --ignored --nocapture log_throughput`.
#[test]
#[ignore]
fn log_throughput() {
    let base = std::env::var_os("WAL_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base).expect("tempdir");
    let (wal, _, _) = open_collect(dir.path(), WalOptions::default());
    let fsyncs = Arc::new(AtomicU64::new(0));
    let counter = fsyncs.clone();
    wal.set_fsync_observer(Box::new(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    }));
    let wal = Arc::new(wal);
    const THREADS: u64 = 4;
    let run_for = Duration::from_secs(5);
    let start = Instant::now();
    let calls: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|th| {
                let wal = wal.clone();
                s.spawn(move || {
                    let mut samples: Vec<RefSample> =
                        (0..1000).map(|i| RefSample { r: th * 1_000_000 + i, t: 1_700_000_000_000, v: 0.5 }).collect();
                    let mut buf = Vec::new();
                    let mut n = 0u64;
                    while start.elapsed() < run_for {
                        for s in samples.iter_mut() {
                            s.t += 15_000;
                            s.v += 1.0;
                        }
                        buf.clear();
                        record::encode_samples(&samples, &mut buf);
                        wal.log(&[&buf]).expect("log");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).sum()
    });
    let secs = start.elapsed().as_secs_f64();
    let bytes = wal.size_bytes();
    eprintln!(
        "log_throughput: {THREADS} threads, {calls} records of 1000 samples in {secs:.2}s = {:.0} records/s, \
         {:.2} M samples/s, {:.1} MiB/s, {} fsyncs ({:.1} records per fsync)",
        calls as f64 / secs,
        calls as f64 * 1000.0 / secs / 1e6,
        bytes as f64 / secs / (1 << 20) as f64,
        fsyncs.load(Ordering::Relaxed),
        calls as f64 / fsyncs.load(Ordering::Relaxed).max(1) as f64,
    );
}

#[test]
fn unsynced_records_are_in_the_file_at_once_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _, _) = open_collect(dir.path(), opts(1 << 20));
    let before = std::fs::metadata(seg(dir.path(), 1)).unwrap().len();
    for r in recs(0..10) {
        wal.log_unsynced(&[&r]).unwrap();
    }
    // Written to the file (a crash of the process keeps them) without an fsync having been waited for.
    assert!(std::fs::metadata(seg(dir.path(), 1)).unwrap().len() > before);
    // A durable record after them makes everything before it durable too.
    wal.log(&[&rec(10)]).unwrap();
    wal.sync().unwrap();
    // The writer is dropped without closing, as a crash would leave it.
    std::mem::forget(wal);
    let (_, _, got) = open_collect(dir.path(), opts(1 << 20));
    assert_eq!(got, recs(0..11));
}
