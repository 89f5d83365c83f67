//! `/api/v1/import/prometheus` (VictoriaMetrics' backfill endpoint): a text exposition whose
//! samples may carry millisecond timestamps; samples without one get the time of the request.
//! The whole body is parsed and validated before anything is appended, then committed once.

use std::io::Read;

use rustc_hash::FxHashMap;
use vitals_model::exposition::{parse_series, Entry, TextParser};
use vitals_model::{Labels, SeriesRef};

use crate::receive::{validate_labels, Batch};
use crate::{IngestLimits, IngestStats, RemoteError};

/// Decompresses a gzip body, refusing to produce more than `limits.max_body_bytes`.
pub fn gunzip(body: &[u8], limits: &IngestLimits) -> Result<Vec<u8>, RemoteError> {
    let mut out = Vec::new();
    let mut d = flate2::read::GzDecoder::new(body).take(limits.max_body_bytes + 1);
    d.read_to_end(&mut out).map_err(|e| RemoteError::Decode(format!("gzip: {e}")))?;
    if out.len() as u64 > limits.max_body_bytes {
        return Err(RemoteError::BodyTooLarge {
            size: out.len() as u64,
            limit: limits.max_body_bytes,
            what: "decompressed",
        });
    }
    Ok(out)
}

/// Parses an exposition text and appends every sample (`now` for those without a timestamp),
/// with `extra` labels added to (and overriding) every series. A parse error or a limit stops the
/// request before anything is stored; storage rejections are handled as in remote_write.
pub fn append_text(
    body: &[u8],
    now: i64,
    extra: &[(String, String)],
    app: &mut dyn vitals_model::Appender,
    limits: &IngestLimits,
) -> Result<IngestStats, RemoteError> {
    if body.len() as u64 > limits.max_body_bytes {
        return Err(RemoteError::BodyTooLarge {
            size: body.len() as u64,
            limit: limits.max_body_bytes,
            what: "decompressed",
        });
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| RemoteError::Decode(format!("body is not UTF-8 (at byte {})", e.valid_up_to())))?;
    // Parse and validate everything first: a bad line must not leave half a request stored.
    let mut series: FxHashMap<&str, usize> = FxHashMap::default();
    let mut labels: Vec<Labels> = Vec::new();
    let mut samples: Vec<(usize, i64, f64)> = Vec::new();
    for entry in TextParser::new(text) {
        let entry = entry.map_err(|e| RemoteError::Decode(e.to_string()))?;
        let Entry::Sample { series: s, value, timestamp } = entry else { continue };
        let idx = match series.get(s) {
            Some(i) => *i,
            None => {
                if labels.len() >= limits.max_series_per_request {
                    return Err(RemoteError::Limit(format!(
                        "more than {} series in one request",
                        limits.max_series_per_request
                    )));
                }
                let parsed = parse_series(s).map_err(|e| RemoteError::Decode(format!("series {s:?}: {e}")))?;
                let mut pairs: Vec<(&str, &str)> = parsed
                    .iter()
                    .filter(|l| !extra.iter().any(|(n, _)| n == l.name.as_str()))
                    .map(|l| (l.name.as_str(), l.value.as_str()))
                    .collect();
                pairs.extend(extra.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                labels.push(validate_labels(pairs.into_iter(), limits)?);
                series.insert(s, labels.len() - 1);
                labels.len() - 1
            }
        };
        samples.push((idx, timestamp.unwrap_or(now), value));
    }
    let mut refs: Vec<Option<SeriesRef>> = vec![None; labels.len()];
    let mut batch = Batch::new(app);
    for (idx, t, v) in samples {
        batch.add(&labels[idx], &mut refs[idx], t, v)?;
    }
    batch.finish(IngestStats { series: labels.len() as u64, ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::MemAppender;

    #[test]
    fn imports_with_and_without_timestamps() {
        let mut app = MemAppender::default();
        let body = b"# TYPE x counter\nx{a=\"1\"} 1 1000\nx{a=\"1\"} 2 2000\ny 5\n";
        let stats = append_text(body, 99, &[("job".into(), "imp".into())], &mut app, &IngestLimits::default()).unwrap();
        assert_eq!((stats.series, stats.samples), (2, 3));
        let x = app.samples("x");
        assert_eq!(x[0].0.get("job"), Some("imp"));
        assert_eq!(x[0].1, vec![(1000, 1.0), (2000, 2.0)]);
        assert_eq!(app.samples("y")[0].1, vec![(99, 5.0)]);
    }

    #[test]
    fn a_bad_line_stores_nothing() {
        let mut app = MemAppender::default();
        let err = append_text(b"ok 1 1000\nbad{ 2\n", 0, &[], &mut app, &IngestLimits::default()).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("line 2"), "{err}");
        assert_eq!(app.total(), 0);
    }

    #[test]
    fn limits_apply() {
        let limits = IngestLimits { max_series_per_request: 1, ..Default::default() };
        let mut app = MemAppender::default();
        assert!(append_text(b"a 1\nb 2\n", 0, &[], &mut app, &limits).is_err());
        let limits = IngestLimits { max_body_bytes: 4, ..Default::default() };
        assert_eq!(append_text(b"a 1\nb 2\n", 0, &[], &mut app, &limits).unwrap_err().status(), 413);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &[b'a'; 100]).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(gunzip(&gz, &limits).unwrap_err().status(), 413);
        assert!(gunzip(b"not gzip", &limits).is_err());
    }
}
