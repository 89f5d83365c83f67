//! remote_write 1.0 receive: decode a snappy-compressed `WriteRequest` under size limits, validate
//! every series, append it to an [`Appender`] and commit once.
//!
//! Outcome of [`append_write_request`]:
//! * a series that fails validation (labels) or a request over a limit: nothing is appended, 400;
//! * samples the storage rejects one by one (out of order, out of bounds, duplicate timestamp,
//!   series limit): they are skipped, every other sample is committed, and the answer is a 400
//!   naming the first rejection ([`RemoteError::SamplesRejected`]) — what Prometheus does, so a
//!   sender drops the batch instead of retrying it forever;
//! * any other storage error (I/O, closed): the appender is rolled back, 500/503, the sender retries.
//!
//! The caller acknowledges the request (2xx) only after this returned `Ok`, i.e. after `commit`.

use prost::Message;
use serde::{Deserialize, Serialize};
use vitals_model::{Appender, Label, Labels, SeriesRef, StorageError, METRIC_NAME};

use crate::error::RemoteError;
use crate::prompb::{self, WriteRequest};

/// Limits applied to every received request. Defaults are generous enough for any Prometheus
/// sender (which sends at most `max_samples_per_send`, 2000 by default, samples per request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestLimits {
    /// Largest accepted body as sent (snappy-compressed); default 16 MiB. The HTTP layer should
    /// stop reading beyond it.
    pub max_compressed_bytes: u64,
    /// Largest accepted body after decompression; default 64 MiB. Checked from the snappy
    /// header before anything is decompressed.
    pub max_body_bytes: u64,
    /// Most series in one request; default 100000.
    pub max_series_per_request: usize,
    /// Most labels in one series, `__name__` included; default 64.
    pub max_labels_per_series: usize,
    /// Longest label name in bytes; default 1024.
    pub max_label_name_len: usize,
    /// Longest label value in bytes; default 4096.
    pub max_label_value_len: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            max_compressed_bytes: 16 << 20,
            max_body_bytes: 64 << 20,
            max_series_per_request: 100_000,
            max_labels_per_series: 64,
            max_label_name_len: 1024,
            max_label_value_len: 4096,
        }
    }
}

/// What one request added (and what it ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Series in the request that carried samples.
    pub series: u64,
    /// Samples appended and committed.
    pub samples: u64,
    /// Samples the storage rejected (out of order, out of bounds, duplicate, series limit).
    pub samples_rejected: u64,
    /// Exemplars received and not stored (vitals keeps none).
    pub exemplars_ignored: u64,
    /// Native histogram samples received and not stored (vitals keeps float samples only).
    pub histograms_ignored: u64,
    /// Metadata entries received and not stored.
    pub metadata_ignored: u64,
    /// OTLP data points skipped because their temporality is delta.
    pub otlp_delta_skipped: u64,
    /// OTLP exponential-histogram data points skipped.
    pub otlp_exponential_histograms_skipped: u64,
    /// OTLP metrics skipped for another reason (no data, unknown type).
    pub otlp_other_skipped: u64,
}

/// The decompressed size a snappy body announces, once both size limits are checked (before
/// anything is decompressed, so a small body cannot expand past the limit).
fn decompressed_len(body: &[u8], limits: &IngestLimits) -> Result<usize, RemoteError> {
    if body.len() as u64 > limits.max_compressed_bytes {
        return Err(RemoteError::BodyTooLarge {
            size: body.len() as u64,
            limit: limits.max_compressed_bytes,
            what: "compressed",
        });
    }
    let len = snap::raw::decompress_len(body).map_err(|e| RemoteError::Decode(format!("snappy: {e}")))?;
    if len as u64 > limits.max_body_bytes {
        return Err(RemoteError::BodyTooLarge { size: len as u64, limit: limits.max_body_bytes, what: "decompressed" });
    }
    Ok(len)
}

/// Decompresses (snappy block format) and decodes a remote_write 1.0 body.
pub fn decode_write_request(body: &[u8], limits: &IngestLimits) -> Result<WriteRequest, RemoteError> {
    decompressed_len(body, limits)?;
    let raw =
        snap::raw::Decoder::new().decompress_vec(body).map_err(|e| RemoteError::Decode(format!("snappy: {e}")))?;
    WriteRequest::decode(raw.as_slice()).map_err(|e| RemoteError::Decode(format!("protobuf: {e}")))
}

/// Validates every series of `req`, appends all samples and commits once (see the module doc for
/// what is rejected how).
pub fn append_write_request(
    req: &WriteRequest,
    app: &mut dyn Appender,
    limits: &IngestLimits,
) -> Result<IngestStats, RemoteError> {
    if req.timeseries.len() > limits.max_series_per_request {
        return Err(RemoteError::Limit(format!(
            "{} series in one request, limit {}",
            req.timeseries.len(),
            limits.max_series_per_request
        )));
    }
    let mut stats = IngestStats { metadata_ignored: req.metadata.len() as u64, ..Default::default() };
    let mut labels = Vec::with_capacity(req.timeseries.len());
    for ts in &req.timeseries {
        labels.push(validate_labels(ts.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())), limits)?);
        stats.exemplars_ignored += ts.exemplars.len() as u64;
        stats.histograms_ignored += ts.histograms.len() as u64;
    }
    let mut batch = Batch::new(app);
    for (ts, ls) in req.timeseries.iter().zip(&labels) {
        if !ts.samples.is_empty() {
            stats.series += 1;
        }
        let mut series = None;
        for s in &ts.samples {
            batch.add(ls, &mut series, s.timestamp, s.value)?;
        }
    }
    batch.finish(stats)
}

// The decompression buffer of each receiving thread, so a request does not allocate (and zero)
// its decompressed size again.
thread_local! {
    static DECOMPRESSED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A buffer larger than this is freed after the request instead of kept for the next one.
const KEEP_BUFFER_BYTES: usize = 8 << 20;

/// Receives a remote_write 1.0 body: decompresses it, validates every series and appends every
/// sample, committing once. The outcomes are those of [`decode_write_request`] followed by
/// [`append_write_request`], but labels and samples are read in place from the request bytes
/// (no allocation per label or sample), which is what the HTTP endpoint uses.
pub fn ingest_write(body: &[u8], app: &mut dyn Appender, limits: &IngestLimits) -> Result<IngestStats, RemoteError> {
    let len = decompressed_len(body, limits)?;
    DECOMPRESSED.with(|cell| {
        let mut buf = cell.borrow_mut();
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let res = snap::raw::Decoder::new()
            .decompress(body, &mut buf[..len])
            .map_err(|e| RemoteError::Decode(format!("snappy: {e}")))
            .and_then(|n| ingest_decompressed(&buf[..n], app, limits));
        if buf.len() > KEEP_BUFFER_BYTES {
            *buf = Vec::new();
        }
        res
    })
}

fn ingest_decompressed(raw: &[u8], app: &mut dyn Appender, limits: &IngestLimits) -> Result<IngestStats, RemoteError> {
    let (series, ignored) = crate::wire::series(raw)?;
    if series.len() > limits.max_series_per_request {
        return Err(RemoteError::Limit(format!(
            "{} series in one request, limit {}",
            series.len(),
            limits.max_series_per_request
        )));
    }
    let mut stats = IngestStats {
        metadata_ignored: ignored.metadata,
        exemplars_ignored: ignored.exemplars,
        histograms_ignored: ignored.histograms,
        ..Default::default()
    };
    // Everything is checked before the first append: a bad series or a malformed sample stores nothing.
    let mut pairs = Vec::new();
    let mut labels = Vec::with_capacity(series.len());
    for s in &series {
        s.labels(&mut pairs)?;
        labels.push(validate_labels(pairs.iter().copied(), limits)?);
        s.for_each_sample(|_, _| Ok(()))?;
    }
    let mut batch = Batch::new(app);
    for (s, ls) in series.iter().zip(&labels) {
        let mut r = None;
        let mut any = false;
        s.for_each_sample(|t, v| {
            any = true;
            batch.add(ls, &mut r, t, v)
        })?;
        if any {
            stats.series += 1;
        }
    }
    batch.finish(stats)
}

/// Appends samples, remembering storage rejections; shared by remote_write and OTLP.
pub(crate) struct Batch<'a> {
    app: &'a mut dyn Appender,
    appended: u64,
    rejected: u64,
    first_rejection: Option<String>,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(app: &'a mut dyn Appender) -> Self {
        Batch { app, appended: 0, rejected: 0, first_rejection: None }
    }

    /// Appends one sample; `series` caches the reference of `labels` between calls.
    pub(crate) fn add(
        &mut self,
        labels: &Labels,
        series: &mut Option<SeriesRef>,
        t: i64,
        v: f64,
    ) -> Result<(), RemoteError> {
        let res = match *series {
            Some(r) => self.app.append_ref(r, t, v),
            None => self.app.append(labels, t, v).map(|r| *series = Some(r)),
        };
        match res {
            Ok(()) => self.appended += 1,
            Err(
                e @ (StorageError::OutOfOrder { .. }
                | StorageError::OutOfBounds { .. }
                | StorageError::DuplicateSample { .. }
                | StorageError::SeriesLimit { .. }),
            ) => {
                self.rejected += 1;
                if self.first_rejection.is_none() {
                    self.first_rejection = Some(e.to_string());
                }
            }
            Err(e) => {
                // Keep the original error even if the rollback fails too.
                let _ = self.app.rollback();
                return Err(RemoteError::Storage(e));
            }
        }
        Ok(())
    }

    /// Commits; returns the stats, or [`RemoteError::SamplesRejected`] if any sample was rejected.
    pub(crate) fn finish(self, mut stats: IngestStats) -> Result<IngestStats, RemoteError> {
        if let Err(e) = self.app.commit() {
            let _ = self.app.rollback();
            return Err(RemoteError::Storage(e));
        }
        stats.samples += self.appended;
        stats.samples_rejected += self.rejected;
        match self.first_rejection {
            Some(first) => Err(RemoteError::SamplesRejected {
                rejected: self.rejected,
                total: self.appended + self.rejected,
                first,
            }),
            None => Ok(stats),
        }
    }
}

/// Checks one series' labels (Prometheus 3 rules: any non-empty UTF-8 name, no duplicate names, a
/// non-empty `__name__`) and the limits, and builds the sorted label set. Empty values mean
/// "absent" and are dropped, as Prometheus does.
pub(crate) fn validate_labels<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
    limits: &IngestLimits,
) -> Result<Labels, RemoteError> {
    let mut v: Vec<(&str, &str)> = pairs.collect();
    let invalid = |v: &[(&str, &str)], reason: String| RemoteError::InvalidSeries { series: describe(v), reason };
    if v.is_empty() {
        return Err(invalid(&v, "no labels".into()));
    }
    if v.len() > limits.max_labels_per_series {
        return Err(RemoteError::Limit(format!(
            "series {} has {} labels, limit {}",
            describe(&v),
            v.len(),
            limits.max_labels_per_series
        )));
    }
    v.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (i, (name, value)) in v.iter().enumerate() {
        if name.is_empty() {
            return Err(invalid(&v, "empty label name".into()));
        }
        if i > 0 && v[i - 1].0 == *name {
            return Err(invalid(&v, format!("duplicate label name {name:?}")));
        }
        if name.len() > limits.max_label_name_len {
            return Err(RemoteError::Limit(format!(
                "series {}: label name of {} bytes, limit {}",
                describe(&v),
                name.len(),
                limits.max_label_name_len
            )));
        }
        if value.len() > limits.max_label_value_len {
            return Err(RemoteError::Limit(format!(
                "series {}: value of label {name:?} has {} bytes, limit {}",
                describe(&v),
                value.len(),
                limits.max_label_value_len
            )));
        }
    }
    if !v.iter().any(|(n, val)| *n == METRIC_NAME && !val.is_empty()) {
        return Err(invalid(&v, "missing metric name (__name__)".into()));
    }
    Ok(Labels::from_sorted(v.iter().filter(|(_, val)| !val.is_empty()).map(|(n, val)| Label::new(n, val)).collect()))
}

/// The label pairs in Prometheus-like notation, cut at 256 bytes, for error messages.
fn describe(v: &[(&str, &str)]) -> String {
    let mut s = String::from("{");
    for (i, (n, val)) in v.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&format!("{n}={val:?}"));
        if s.len() > 256 {
            let mut cut = 256;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            s.push('…');
            break;
        }
    }
    s.push('}');
    s
}

/// A convenience for tests and the sender: the `prompb` label pairs of a label set.
pub fn labels_to_proto(labels: &Labels) -> Vec<prompb::Label> {
    labels.iter().map(|l| prompb::Label { name: l.name.to_string(), value: l.value.to_string() }).collect()
}

#[cfg(test)]
mod tests;
