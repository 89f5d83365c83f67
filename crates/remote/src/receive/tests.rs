use proptest::prelude::*;

use super::*;
use crate::prompb::{encode_snappy, Exemplar, Histogram, Label as PLabel, MetricMetadata, Sample, TimeSeries};
use crate::testutil::MemAppender;

fn ts(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| PLabel { name: n.to_string(), value: v.to_string() }).collect(),
        samples: samples.iter().map(|&(t, v)| Sample { value: v, timestamp: t }).collect(),
        exemplars: vec![],
        histograms: vec![],
    }
}

fn req(series: Vec<TimeSeries>) -> WriteRequest {
    WriteRequest { timeseries: series, metadata: vec![] }
}

#[test]
fn encode_decode_append_round_trip() {
    let mut r = req(vec![
        ts(&[("job", "a"), ("__name__", "up")], &[(1000, 1.0), (2000, 0.0)]),
        ts(&[("__name__", "http_requests_total"), ("code", "200"), ("empty", "")], &[(1000, 5.0)]),
    ]);
    r.timeseries[0].exemplars.push(Exemplar { labels: vec![], value: 1.0, timestamp: 1 });
    r.timeseries[0].histograms.push(Histogram { sum: 1.0, schema: 0, timestamp: 1 });
    r.metadata.push(MetricMetadata::default());
    let body = encode_snappy(&r);
    let back = decode_write_request(&body, &IngestLimits::default()).unwrap();
    assert_eq!(back, r);
    let mut app = MemAppender::default();
    let stats = append_write_request(&back, &mut app, &IngestLimits::default()).unwrap();
    assert_eq!(
        stats,
        IngestStats {
            series: 2,
            samples: 3,
            exemplars_ignored: 1,
            histograms_ignored: 1,
            metadata_ignored: 1,
            ..Default::default()
        }
    );
    assert_eq!(app.commits, 1);
    let up = app.samples("up");
    assert_eq!(up[0].0, Labels::from_pairs([("__name__", "up"), ("job", "a")]));
    assert_eq!(up[0].1, vec![(1000, 1.0), (2000, 0.0)]);
    let c = app.samples("http_requests_total");
    assert_eq!(c[0].0.get("empty"), None, "empty values are dropped");
}

#[test]
fn utf8_names_are_accepted() {
    let r = req(vec![ts(&[("__name__", "温度.celsius"), ("ホスト名", "a b")], &[(1, 1.0)])]);
    let mut app = MemAppender::default();
    append_write_request(&r, &mut app, &IngestLimits::default()).unwrap();
    assert_eq!(app.total(), 1);
}

fn expect_rejected(r: WriteRequest, limits: &IngestLimits, status: u16, needle: &str) {
    let mut app = MemAppender::default();
    let err = append_write_request(&r, &mut app, limits).unwrap_err();
    assert_eq!(err.status(), status, "{err}");
    assert_eq!(err.error_type(), "bad_data");
    assert!(err.to_string().contains(needle), "{err} should mention {needle}");
    assert_eq!(app.total(), 0, "nothing may be stored: {err}");
}

#[test]
fn invalid_series_reject_the_whole_request() {
    let good = ts(&[("__name__", "ok")], &[(1, 1.0)]);
    let l = IngestLimits::default();
    for (bad, needle) in [
        (ts(&[], &[(1, 1.0)]), "no labels"),
        (ts(&[("job", "x")], &[(1, 1.0)]), "missing metric name"),
        (ts(&[("__name__", "")], &[(1, 1.0)]), "missing metric name"),
        (ts(&[("__name__", "a"), ("", "x")], &[(1, 1.0)]), "empty label name"),
        (ts(&[("__name__", "a"), ("x", "1"), ("x", "2")], &[(1, 1.0)]), "duplicate label name"),
    ] {
        expect_rejected(req(vec![good.clone(), bad]), &l, 400, needle);
    }
}

#[test]
fn every_limit_is_enforced() {
    let one = |labels: &[(&str, &str)]| req(vec![ts(labels, &[(1, 1.0)])]);
    let l = IngestLimits { max_labels_per_series: 2, ..Default::default() };
    expect_rejected(one(&[("__name__", "a"), ("b", "1"), ("c", "1")]), &l, 400, "3 labels, limit 2");
    let l = IngestLimits { max_label_name_len: 3, ..Default::default() };
    expect_rejected(one(&[("__name__", "a")]), &l, 400, "label name of 8 bytes");
    let l = IngestLimits { max_label_value_len: 3, ..Default::default() };
    expect_rejected(one(&[("__name__", "abcd")]), &l, 400, "4 bytes, limit 3");
    let l = IngestLimits { max_series_per_request: 1, ..Default::default() };
    let two = req(vec![ts(&[("__name__", "a")], &[(1, 1.0)]), ts(&[("__name__", "b")], &[(1, 1.0)])]);
    expect_rejected(two.clone(), &l, 400, "2 series in one request");

    let body = encode_snappy(&two);
    let l = IngestLimits { max_compressed_bytes: body.len() as u64 - 1, ..Default::default() };
    let err = decode_write_request(&body, &l).unwrap_err();
    assert_eq!(err.status(), 413);
    let raw_len = prost::Message::encoded_len(&two) as u64;
    let l = IngestLimits { max_body_bytes: raw_len - 1, ..Default::default() };
    let err = decode_write_request(&body, &l).unwrap_err();
    assert!(matches!(err, RemoteError::BodyTooLarge { what: "decompressed", .. }), "{err}");
    let l = IngestLimits { max_body_bytes: raw_len, ..Default::default() };
    decode_write_request(&body, &l).unwrap();
}

#[test]
fn storage_failure_rolls_back_everything() {
    let r = req(vec![ts(&[("__name__", "a")], &[(1, 1.0), (2, 2.0)]), ts(&[("__name__", "b")], &[(1, 1.0)])]);
    let mut app = MemAppender { fail_append_at: Some(3), ..Default::default() };
    let err = append_write_request(&r, &mut app, &IngestLimits::default()).unwrap_err();
    assert_eq!(err.status(), 500);
    assert_eq!(err.error_type(), "internal");
    assert_eq!(app.rollbacks, 1);
    app.commit().unwrap();
    assert_eq!(app.total(), 0, "the rolled-back samples must not reach a later commit");

    let mut app = MemAppender { fail_commit: true, ..Default::default() };
    let err = append_write_request(&r, &mut app, &IngestLimits::default()).unwrap_err();
    assert_eq!(err.status(), 500);
    assert_eq!(app.total(), 0);
}

#[test]
fn out_of_order_samples_are_skipped_and_the_rest_committed() {
    let mut app = MemAppender::default();
    let first = req(vec![ts(&[("__name__", "a")], &[(10, 1.0)])]);
    append_write_request(&first, &mut app, &IngestLimits::default()).unwrap();
    let second =
        req(vec![ts(&[("__name__", "a")], &[(5, 0.5), (10, 9.0), (20, 2.0)]), ts(&[("__name__", "b")], &[(1, 1.0)])]);
    let err = append_write_request(&second, &mut app, &IngestLimits::default()).unwrap_err();
    match &err {
        RemoteError::SamplesRejected { rejected, total, first } => {
            assert_eq!((*rejected, *total), (2, 4));
            assert!(first.contains("out of order"), "{first}");
        }
        e => panic!("unexpected {e}"),
    }
    assert_eq!(err.status(), 400);
    assert_eq!(app.samples("a")[0].1, vec![(10, 1.0), (20, 2.0)]);
    assert_eq!(app.samples("b")[0].1, vec![(1, 1.0)]);
}

#[test]
fn garbage_bodies_are_errors() {
    let l = IngestLimits::default();
    let body = encode_snappy(&req(vec![ts(&[("__name__", "a")], &[(1, 1.0)])]));
    for cut in 0..body.len() {
        let _ = decode_write_request(&body[..cut], &l);
    }
    assert!(decode_write_request(&body[..body.len() - 1], &l).is_err());
    assert_eq!(decode_write_request(b"\xff\xff\xff", &l).unwrap_err().status(), 400);
    // Valid snappy around bytes that are not a WriteRequest.
    let junk = snap::raw::Encoder::new().compress_vec(&[0xff; 20]).unwrap();
    assert_eq!(decode_write_request(&junk, &l).unwrap_err().status(), 400);
    // Invalid UTF-8 in a label value is a protobuf decode error.
    let mut bad = prost::Message::encode_to_vec(&req(vec![ts(&[("__name__", "ab")], &[])]));
    let pos = bad.iter().rposition(|&b| b == b'b').unwrap();
    bad[pos] = 0xff;
    let bad = snap::raw::Encoder::new().compress_vec(&bad).unwrap();
    assert!(matches!(decode_write_request(&bad, &l), Err(RemoteError::Decode(_))));
}

#[test]
fn snappy_bomb_is_refused_before_decompression() {
    // A 5-byte header announcing 4 GiB of output.
    let mut bomb = Vec::new();
    let mut n: u64 = 0xffff_ffff;
    while n >= 0x80 {
        bomb.push((n as u8) | 0x80);
        n >>= 7;
    }
    bomb.push(n as u8);
    bomb.extend_from_slice(&[0u8; 16]);
    let err = decode_write_request(&bomb, &IngestLimits::default()).unwrap_err();
    assert_eq!(err.status(), 413, "{err}");
    // A real 1 MiB run of zeros compresses to a few KiB; with a 64 KiB limit it is refused.
    let zeros = snap::raw::Encoder::new().compress_vec(&vec![0u8; 1 << 20]).unwrap();
    assert!(zeros.len() < 64 << 10);
    let l = IngestLimits { max_body_bytes: 64 << 10, ..Default::default() };
    assert_eq!(decode_write_request(&zeros, &l).unwrap_err().status(), 413);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let l = IngestLimits { max_body_bytes: 1 << 20, ..Default::default() };
        if let Ok(r) = decode_write_request(&bytes, &l) {
            let mut app = MemAppender::default();
            let _ = append_write_request(&r, &mut app, &l);
        }
        let compressed = snap::raw::Encoder::new().compress_vec(&bytes).unwrap();
        if let Ok(r) = decode_write_request(&compressed, &l) {
            let mut app = MemAppender::default();
            let _ = append_write_request(&r, &mut app, &l);
        }
    }

    #[test]
    fn encode_decode_any(series in proptest::collection::vec(
        ("[a-z_]{1,8}", proptest::collection::vec((any::<i64>(), any::<f64>()), 0..8)), 0..8)
    ) {
        let r = req(series.iter().map(|(n, s)| ts(&[("__name__", n)], s)).collect());
        let back = decode_write_request(&encode_snappy(&r), &IngestLimits::default()).unwrap();
        prop_assert_eq!(back.timeseries.len(), r.timeseries.len());
        for (a, b) in back.timeseries.iter().zip(&r.timeseries) {
            prop_assert_eq!(&a.labels, &b.labels);
            // proto3 omits a 0.0 value, so -0.0 arrives as 0.0 (as with Prometheus' own encoder).
            let bits = |s: &[Sample]| {
                s.iter().map(|s| (s.timestamp, if s.value == 0.0 { 0 } else { s.value.to_bits() })).collect::<Vec<_>>()
            };
            prop_assert_eq!(bits(&a.samples), bits(&b.samples));
        }
    }
}

proptest! {
    /// The in-place reader gives exactly what prost's owned decoding gives.
    #[test]
    fn in_place_ingest_matches_owned_decoding(series in proptest::collection::vec(
        (proptest::collection::vec(("[a-c]{1,3}", "[x-z]{0,3}"), 0..4), proptest::collection::vec((0i64..1000, -1e6f64..1e6), 0..5)),
        0..20,
    )) {
        let r = req(series
            .iter()
            .map(|(ls, ss)| {
                let mut labels: Vec<(&str, &str)> = vec![("__name__", "m")];
                labels.extend(ls.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                let mut samples = ss.clone();
                samples.sort_by_key(|s| s.0);
                samples.dedup_by_key(|s| s.0);
                ts(&labels, &samples)
            })
            .collect());
        let body = crate::prompb::encode_snappy(&r);
        let limits = IngestLimits::default();
        let mut a = MemAppender::default();
        let owned = decode_write_request(&body, &limits).and_then(|d| append_write_request(&d, &mut a, &limits));
        let mut b = MemAppender::default();
        let in_place = ingest_write(&body, &mut b, &limits);
        prop_assert_eq!(format!("{owned:?}"), format!("{in_place:?}"));
        prop_assert_eq!(&a.committed, &b.committed);
    }

    /// Random bytes never panic the in-place reader either.
    #[test]
    fn in_place_random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut app = MemAppender::default();
        let _ = crate::wire::series(&bytes).map(|(s, _)| {
            let mut pairs = Vec::new();
            for v in s {
                let _ = v.labels(&mut pairs);
                let _ = v.for_each_sample(|_, _| Ok(()));
            }
        });
        let body = snap::raw::Encoder::new().compress_vec(&bytes).unwrap();
        let _ = ingest_write(&body, &mut app, &IngestLimits::default());
    }
}
