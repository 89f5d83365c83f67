//! Alertmanager's API v2 (the subset `amtool`, Grafana and Prometheus use) over the built-in
//! notifier: alerts and alert groups, silences, status and receivers, in Alertmanager 0.25's JSON
//! shapes, status codes and error texts. Not part of the `/api/v1` family: it works in agent mode
//! and does not wait for storage, only for the notifier.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vitals_model::{Labels, MatchOp, Matcher, MatcherError};
use vitals_notify::alert::ReceiverName;
use vitals_notify::{Alert, AlertFilter, AlertStatus, Notifier, NotifyError, Silence, SilenceInfo, SilenceMatcher};

use crate::WebState;

// ---------------------------------------------------------------------------------------------
// Handlers

/// `GET /api/v2/alerts` (`filter`, `receiver`, `active`, `silenced`, `inhibited`, `unprocessed`).
pub(crate) async fn get_alerts(State(st): State<Arc<WebState>>, RawQuery(q): RawQuery) -> Response {
    let n = match notifier(&st) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let filter = match alert_filter(q.as_deref()) {
        Ok(f) => f,
        Err(msg) => return text(StatusCode::BAD_REQUEST, &msg),
    };
    let alerts = n.alerts(&filter);
    json(&alerts.iter().map(GettableAlert::from).collect::<Vec<_>>())
}

/// `POST /api/v2/alerts`: a JSON list of postable alerts; the valid ones are kept even when others
/// are refused (400 with every reason), as Alertmanager does.
pub(crate) async fn post_alerts(State(st): State<Arc<WebState>>, body: Bytes) -> Response {
    let n = match notifier(&st) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let (alerts, errors) = match parse_alerts(&body, SystemTime::now()) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if !alerts.is_empty() {
        n.put_alerts(alerts);
    }
    if !errors.is_empty() {
        return text(StatusCode::BAD_REQUEST, &errors.join("; "));
    }
    StatusCode::OK.into_response()
}

/// `GET /api/v2/alerts/groups` (`filter`, `receiver`, `active`, `silenced`, `inhibited`).
pub(crate) async fn get_alert_groups(State(st): State<Arc<WebState>>, RawQuery(q): RawQuery) -> Response {
    let n = match notifier(&st) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let mut filter = match alert_filter(q.as_deref()) {
        Ok(f) => f,
        Err(msg) => return text(StatusCode::BAD_REQUEST, &msg),
    };
    // The receiver filter applies to each group's route, not to every route of an alert.
    let receiver = filter.receiver.take();
    let alerts: HashMap<String, AlertStatus> =
        n.alerts(&filter).into_iter().map(|a| (a.fingerprint.clone(), a)).collect();
    let mut groups: Vec<(BTreeMap<String, String>, String, Vec<&AlertStatus>)> = Vec::new();
    for g in n.alert_groups() {
        if receiver.as_ref().is_some_and(|re| !re.is_match(&g.receiver)) {
            continue;
        }
        let mut members: Vec<&AlertStatus> = g.fingerprints.iter().filter_map(|fp| alerts.get(fp)).collect();
        if members.is_empty() {
            continue;
        }
        members.sort_by(|a, b| alert_order(&a.labels, &b.labels));
        groups.push((g.labels, g.receiver, members));
    }
    groups.sort_by(|a, b| label_set_order(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
    let out: Vec<AlertGroup> = groups
        .iter()
        .map(|(labels, receiver, members)| AlertGroup {
            alerts: members.iter().map(|a| GettableAlert::from(*a)).collect(),
            labels,
            receiver: ReceiverName { name: receiver.clone() },
        })
        .collect();
    json(&out)
}

/// `GET /api/v2/silences` (`filter`: silences having an identical matcher for each one).
pub(crate) async fn get_silences(State(st): State<Arc<WebState>>, RawQuery(q): RawQuery) -> Response {
    let n = match notifier(&st) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let mut filter = Vec::new();
    for (k, v) in form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes()) {
        if k == "filter" {
            match parse_matcher(&v) {
                Ok(m) => filter.push(m),
                Err(msg) => return text(StatusCode::BAD_REQUEST, &msg),
            }
        }
    }
    let mut list: Vec<SilenceInfo> =
        n.silences().into_iter().filter(|s| filter.iter().all(|m| has_matcher(&s.silence.matchers, m))).collect();
    sort_silences(&mut list);
    json(&list.iter().map(GettableSilence::from).collect::<Vec<_>>())
}

/// `POST /api/v2/silences`: creates a silence, or updates the one named by `id`.
pub(crate) async fn post_silences(State(st): State<Arc<WebState>>, body: Bytes) -> Response {
    let n = match notifier(&st) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let silence = match parse_silence(&body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if silence.starts_at >= silence.ends_at {
        return text(StatusCode::BAD_REQUEST, "Failed to create silence: start time must be before end time");
    }
    if silence.ends_at < SystemTime::now() {
        return text(StatusCode::BAD_REQUEST, "Failed to create silence: end time can't be in the past");
    }
    if let Err(msg) = validate_matchers(&silence.matchers) {
        return text(StatusCode::BAD_REQUEST, &format!("silence invalid: {msg}"));
    }
    match n.add_silence(silence) {
        Ok(id) => json(&serde_json::json!({ "silenceID": id })),
        Err(NotifyError::SilenceNotFound(_)) => text(StatusCode::NOT_FOUND, "silence not found"),
        Err(NotifyError::InvalidSilence(msg)) => text(StatusCode::BAD_REQUEST, &format!("silence invalid: {msg}")),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `GET /api/v2/silence/{id}`.
pub(crate) async fn get_silence(State(st): State<Arc<WebState>>, Path(id): Path<String>) -> Response {
    let n = match notifier(&st) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    if let Err(r) = check_uuid(&id) {
        return *r;
    }
    match n.silences().iter().find(|s| s.silence.id.as_deref() == Some(id.as_str())) {
        Some(s) => json(&GettableSilence::from(s)),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `DELETE /api/v2/silence/{id}`: expires the silence (expiring an expired one is not an error).
pub(crate) async fn delete_silence(State(st): State<Arc<WebState>>, Path(id): Path<String>) -> Response {
    let n = match notifier(&st) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    if let Err(r) = check_uuid(&id) {
        return *r;
    }
    match n.expire_silence(&id) {
        Ok(()) | Err(NotifyError::InvalidSilence(_)) => StatusCode::OK.into_response(),
        Err(NotifyError::SilenceNotFound(_)) => text(StatusCode::NOT_FOUND, "silence not found"),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `GET /api/v2/status`: cluster `disabled`, build information, the notify configuration, start time.
pub(crate) async fn status(State(st): State<Arc<WebState>>) -> Response {
    let n = match notifier(&st) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let s = n.status();
    let v = &s.version_info;
    let out = AmStatus {
        cluster: ClusterStatus {
            name: (!s.cluster.name.is_empty()).then_some(s.cluster.name.as_str()),
            peers: &s.cluster.peers,
            status: &s.cluster.status,
        },
        config: AmConfig { original: &s.config.original },
        uptime: reformat(&s.uptime),
        version_info: VersionInfo {
            branch: &v.branch,
            build_date: &v.build_date,
            build_user: &v.build_user,
            go_version: &v.go_version,
            revision: &v.revision,
            version: &v.version,
        },
    };
    json(&out)
}

/// `GET /api/v2/receivers`: the receivers of the notify configuration, in its order.
pub(crate) async fn receivers(State(st): State<Arc<WebState>>) -> Response {
    let n = match notifier(&st) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    #[derive(Deserialize)]
    struct Receivers {
        #[serde(default)]
        receivers: Vec<Named>,
    }
    #[derive(Deserialize)]
    struct Named {
        name: String,
    }
    // The configuration in force, as the notifier reports it, is the one source of the order.
    match serde_norway::from_str::<Receivers>(&n.status().config.original) {
        Ok(r) => json(&r.receivers.iter().map(|r| serde_json::json!({ "name": r.name })).collect::<Vec<_>>()),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("reading the notify configuration: {e}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Responses

fn notifier(st: &WebState) -> Result<Arc<Notifier>, Box<Response>> {
    st.notifier
        .get()
        .cloned()
        .ok_or_else(|| Box::new(text(StatusCode::SERVICE_UNAVAILABLE, "the notifier is not running yet")))
}

/// A JSON answer, with the newline Go's JSON encoder ends it with.
fn json<T: Serialize + ?Sized>(v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(mut body) => {
            body.push(b'\n');
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// An error as Alertmanager's handlers write them: a JSON string (and a newline).
fn text(code: StatusCode, msg: &str) -> Response {
    let body = serde_json::to_string(msg).unwrap_or_default() + "\n";
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// An error as Alertmanager's request validation (go-openapi) writes them: `{"code":…,"message":…}`;
/// `code` is the HTTP status, or 601 (bad format) / 602 (required) / 612 (too few items) with 422.
fn swagger_error(code: u16, message: &str) -> Box<Response> {
    let status = if code >= 600 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::BAD_REQUEST };
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    Box::new((status, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The path parameter `silenceID` must be a UUID (any version), as Alertmanager's spec says.
fn check_uuid(id: &str) -> Result<(), Box<Response>> {
    let groups: Vec<&str> = id.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups.iter().zip(lens).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(swagger_error(601, &format!("silenceID in path must be of type uuid: {id:?}")))
    }
}

// ---------------------------------------------------------------------------------------------
// JSON shapes (field order as Alertmanager writes them)

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GettableAlert<'a> {
    annotations: &'a BTreeMap<String, String>,
    ends_at: String,
    fingerprint: &'a str,
    receivers: &'a [ReceiverName],
    starts_at: String,
    status: GettableAlertStatus<'a>,
    updated_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "str::is_empty")]
    generator_url: &'a str,
    labels: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GettableAlertStatus<'a> {
    inhibited_by: &'a [String],
    silenced_by: Vec<&'a str>,
    state: &'a str,
}

impl<'a> From<&'a AlertStatus> for GettableAlert<'a> {
    fn from(a: &'a AlertStatus) -> Self {
        let mut silenced_by: Vec<&str> = a.status.silenced_by.iter().map(String::as_str).collect();
        silenced_by.sort_unstable();
        GettableAlert {
            annotations: &a.annotations,
            ends_at: reformat(&a.ends_at),
            fingerprint: &a.fingerprint,
            receivers: &a.receivers,
            starts_at: reformat(&a.starts_at),
            status: GettableAlertStatus { inhibited_by: &a.status.inhibited_by, silenced_by, state: &a.status.state },
            updated_at: reformat(&a.updated_at),
            generator_url: &a.generator_url,
            labels: &a.labels,
        }
    }
}

#[derive(Serialize)]
struct AlertGroup<'a> {
    alerts: Vec<GettableAlert<'a>>,
    labels: &'a BTreeMap<String, String>,
    receiver: ReceiverName,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GettableSilence<'a> {
    id: &'a str,
    status: &'a vitals_notify::silence::SilenceStatus,
    updated_at: String,
    comment: &'a str,
    created_by: &'a str,
    ends_at: String,
    matchers: Vec<ApiMatcher<'a>>,
    starts_at: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiMatcher<'a> {
    is_equal: bool,
    is_regex: bool,
    name: &'a str,
    value: &'a str,
}

impl<'a> From<&'a SilenceInfo> for GettableSilence<'a> {
    fn from(s: &'a SilenceInfo) -> Self {
        let sil = &s.silence;
        GettableSilence {
            id: sil.id.as_deref().unwrap_or(""),
            status: &s.status,
            updated_at: api_time(s.updated_at),
            comment: &sil.comment,
            created_by: &sil.created_by,
            ends_at: api_time(sil.ends_at),
            matchers: sil
                .matchers
                .iter()
                .map(|m| ApiMatcher { is_equal: m.is_equal, is_regex: m.is_regex, name: &m.name, value: &m.value })
                .collect(),
            starts_at: api_time(sil.starts_at),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AmStatus<'a> {
    cluster: ClusterStatus<'a>,
    config: AmConfig<'a>,
    uptime: String,
    version_info: VersionInfo<'a>,
}

#[derive(Serialize)]
struct ClusterStatus<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    peers: &'a [Value],
    status: &'a str,
}

#[derive(Serialize)]
struct AmConfig<'a> {
    original: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionInfo<'a> {
    branch: &'a str,
    build_date: &'a str,
    build_user: &'a str,
    go_version: &'a str,
    revision: &'a str,
    version: &'a str,
}

// ---------------------------------------------------------------------------------------------
// Times

/// A time as Alertmanager's API writes it (go-openapi's `strfmt.DateTime`): UTC, milliseconds.
fn api_time(t: SystemTime) -> String {
    let dt: DateTime<Utc> = t.into();
    dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The notifier's RFC 3339 (nanosecond) text in the API's millisecond form; Go's zero time if unset.
fn reformat(s: &str) -> String {
    match DateTime::parse_from_rfc3339(s) {
        Ok(dt) => dt.with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => "0001-01-01T00:00:00.000Z".into(),
    }
}

/// A `date-time` as go-openapi reads it (RFC 3339 with or without a colon in the offset, or a
/// local time taken as UTC); `None` for the empty string and Go's zero time (before 1970 here).
fn parse_api_time(s: &str) -> Result<Option<SystemTime>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let utc = if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        dt.with_timezone(&Utc)
    } else if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        dt.with_timezone(&Utc)
    } else if let Some(n) =
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"].iter().find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    {
        n.and_utc()
    } else {
        return Err(format!("parsing time {s:?}: not an RFC 3339 date-time"));
    };
    let nanos = utc.timestamp_nanos_opt().unwrap_or(i64::MIN);
    if nanos <= 0 {
        return Ok(None);
    }
    Ok(Some(UNIX_EPOCH + Duration::from_nanos(nanos as u64)))
}

// ---------------------------------------------------------------------------------------------
// Query parameters and matchers

/// The alert filter of `GET /api/v2/alerts` and `/alerts/groups`; the error is the 400 text.
fn alert_filter(query: Option<&str>) -> Result<AlertFilter, String> {
    let mut f = AlertFilter::default();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "filter" => f.matchers.push(parse_matcher(&v)?),
            "receiver" if !v.is_empty() => {
                let re = Regex::new(&format!("^(?:{v})$"))
                    .map_err(|e| format!("failed to parse receiver param: error parsing regexp: {e}"))?;
                f.receiver = Some(re);
            }
            "active" => f.active = go_bool(&v),
            "silenced" => f.silenced = go_bool(&v),
            "inhibited" => f.inhibited = go_bool(&v),
            "unprocessed" => f.unprocessed = go_bool(&v),
            _ => {}
        }
    }
    Ok(f)
}

/// A boolean query parameter as go-openapi reads it: a few words are true, anything else false.
fn go_bool(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "ok" | "y" | "on" | "selected" | "checked" | "t" | "enabled"
    )
}

/// One `filter` matcher in Alertmanager 0.25's syntax: `name=value`, `name!="value"`, `name=~re`,
/// `name!~"re"`; in a quoted value `\"`, `\\` and `\n` are escapes.
fn parse_matcher(s: &str) -> Result<Matcher, String> {
    let bad = || format!("bad matcher format: {s}");
    let t = s.trim_start();
    let name_len = t
        .char_indices()
        .take_while(|&(i, c)| c == '_' || c == ':' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
        .count();
    if name_len == 0 {
        return Err(bad());
    }
    let (name, rest) = t.split_at(name_len);
    let rest = rest.trim_start();
    let (op, raw) =
        [("=~", MatchOp::Regex), ("!~", MatchOp::NotRegex), ("!=", MatchOp::NotEqual), ("=", MatchOp::Equal)]
            .iter()
            .find_map(|(sym, op)| rest.strip_prefix(sym).map(|r| (*op, r)))
            .ok_or_else(bad)?;
    let raw = raw.trim();
    let (body, quoted) = match raw.strip_prefix('"') {
        Some(b) => (b, true),
        None => (raw, false),
    };
    let unescaped_quote = || format!("matcher value contains unescaped double quote: {raw}");
    let mut value = String::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    let mut closed = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.peek().map(|&(_, n)| n) {
                Some('n') => {
                    value.push('\n');
                    chars.next();
                }
                Some(q @ ('"' | '\\')) => {
                    value.push(q);
                    chars.next();
                }
                _ => value.push('\\'),
            },
            '"' => {
                if !quoted || i + 1 < body.len() {
                    return Err(unescaped_quote());
                }
                closed = true;
            }
            c => value.push(c),
        }
    }
    if quoted && !closed {
        return Err(unescaped_quote());
    }
    Matcher::new(op, name, value).map_err(|e| match e {
        MatcherError::BadRegex { source, .. } => format!("error parsing regexp: {source}"),
    })
}

/// Whether a silence has a matcher identical to `m` (name, operator and value).
fn has_matcher(matchers: &[SilenceMatcher], m: &Matcher) -> bool {
    matchers.iter().any(|s| {
        let op = match (s.is_regex, s.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        };
        s.name == m.name && op == m.op && s.value == m.value
    })
}

/// Alertmanager's order: active (ending soonest first), pending (starting soonest first), expired
/// (ended most recently first).
fn sort_silences(list: &mut [SilenceInfo]) {
    use vitals_notify::SilenceState::*;
    let rank = |s: &SilenceInfo| match s.status.state {
        Active => 0,
        Pending => 1,
        Expired => 2,
    };
    list.sort_by(|a, b| {
        rank(a).cmp(&rank(b)).then_with(|| match a.status.state {
            Active => a.silence.ends_at.cmp(&b.silence.ends_at),
            Pending => a.silence.starts_at.cmp(&b.silence.starts_at),
            Expired => b.silence.ends_at.cmp(&a.silence.ends_at),
        })
    });
}

/// Prometheus' `LabelSet.Before`: by sorted label names, then values, then size.
fn label_set_order(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> std::cmp::Ordering {
    for ((an, av), (bn, bv)) in a.iter().zip(b.iter()) {
        let o = an.cmp(bn).then_with(|| av.cmp(bv));
        if o.is_ne() {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Alertmanager's order of alerts in a group: by `job`, then `instance` (present first), then labels.
fn alert_order(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for key in ["job", "instance"] {
        match (a.get(key), b.get(key)) {
            (None, None) => continue,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    label_set_order(a, b)
}

/// Prometheus' label name rule (Alertmanager 0.25).
fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

// ---------------------------------------------------------------------------------------------
// Request bodies

/// A postable alert with every field optional, so missing ones are reported as Alertmanager does.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert {
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(rename = "generatorURL")]
    generator_url: Option<String>,
}

/// The body of `POST /api/v2/alerts`: the valid alerts, and the reasons the others were refused; or
/// the response when the body as a whole is unusable.
fn parse_alerts(body: &[u8], now: SystemTime) -> Result<(Vec<Alert>, Vec<String>), Box<Response>> {
    let parse_err =
        |e: &dyn std::fmt::Display| swagger_error(400, &format!("parsing alerts body from \"\" failed, because {e}"));
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(swagger_error(602, "alerts in body is required"));
    }
    let list: Vec<PostableAlert> = serde_json::from_slice(body).map_err(|e| parse_err(&e))?;
    // Schema checks come first and refuse the whole request (422), as go-openapi's validation does.
    for (i, a) in list.iter().enumerate() {
        if a.labels.is_none() {
            return Err(swagger_error(602, &format!("{i}.labels in body is required")));
        }
        if let Some(u) = a.generator_url.as_deref().filter(|u| !is_uri(u)) {
            return Err(swagger_error(601, &format!("{i}.generatorURL in body must be of type uri: {u:?}")));
        }
    }
    let mut alerts = Vec::with_capacity(list.len());
    let mut errors = Vec::new();
    for a in list {
        let starts = parse_api_time(a.starts_at.as_deref().unwrap_or("")).map_err(|e| parse_err(&e))?;
        let ends = parse_api_time(a.ends_at.as_deref().unwrap_or("")).map_err(|e| parse_err(&e))?;
        // An alert without a start starts now, or when it ended.
        let starts_at = starts.or(ends).unwrap_or(now);
        let labels: BTreeMap<String, String> =
            a.labels.unwrap_or_default().into_iter().filter(|(_, v)| !v.is_empty()).collect();
        if let Some(msg) = alert_error(&labels, &a.annotations, starts_at, ends) {
            errors.push(msg);
            continue;
        }
        alerts.push(Alert {
            labels: Labels::from_pairs(labels.iter()),
            annotations: Labels::from_pairs(a.annotations.iter()),
            starts_at,
            ends_at: ends,
            generator_url: a.generator_url.unwrap_or_default(),
        });
    }
    Ok((alerts, errors))
}

/// Why Alertmanager refuses an alert (Prometheus' `model.Alert.Validate`), if it does.
fn alert_error(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    starts_at: SystemTime,
    ends_at: Option<SystemTime>,
) -> Option<String> {
    if ends_at.is_some_and(|e| e < starts_at) {
        return Some("start time must be before end time".into());
    }
    if let Some(n) = labels.keys().find(|n| !valid_label_name(n)) {
        return Some(format!("invalid label set: invalid name {n:?}"));
    }
    if labels.is_empty() {
        return Some("at least one label pair required".into());
    }
    if let Some(n) = annotations.keys().find(|n| !valid_label_name(n)) {
        return Some(format!("invalid annotations: invalid name {n:?}"));
    }
    None
}

/// go-openapi's `uri` format (Go's `url.ParseRequestURI`): an absolute URL or an absolute path
/// (an empty string is not checked).
fn is_uri(u: &str) -> bool {
    if u.is_empty() || u.starts_with('/') {
        return true;
    }
    let Some((scheme, rest)) = u.split_once(':') else { return false };
    let scheme_ok = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let host = rest.strip_prefix("//").map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    scheme_ok && !host.is_some_and(|h| h.contains(' '))
}

/// A postable silence with every field optional, so missing ones are reported as Alertmanager does.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableSilence {
    id: Option<String>,
    matchers: Option<Vec<PostableMatcher>>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    created_by: Option<String>,
    comment: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableMatcher {
    name: Option<String>,
    value: Option<String>,
    is_regex: Option<bool>,
    is_equal: Option<bool>,
}

fn parse_silence(body: &[u8]) -> Result<Silence, Box<Response>> {
    let parse_err =
        |e: &dyn std::fmt::Display| swagger_error(400, &format!("parsing silence body from \"\" failed, because {e}"));
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(swagger_error(602, "silence in body is required"));
    }
    let p: PostableSilence = serde_json::from_slice(body).map_err(|e| parse_err(&e))?;
    let required = |field: &str| swagger_error(602, &format!("{field} in body is required"));
    let Some(list) = p.matchers else { return Err(required("matchers")) };
    if list.is_empty() {
        return Err(swagger_error(612, "matchers in body should have at least 1 items"));
    }
    let mut matchers = Vec::with_capacity(list.len());
    for (i, m) in list.into_iter().enumerate() {
        let is_equal = m.is_equal.unwrap_or(true);
        match (m.name, m.value, m.is_regex) {
            (Some(name), Some(value), Some(is_regex)) => {
                matchers.push(SilenceMatcher { name, value, is_regex, is_equal })
            }
            (None, _, _) => return Err(required(&format!("matchers.{i}.name"))),
            (_, None, _) => return Err(required(&format!("matchers.{i}.value"))),
            (_, _, None) => return Err(required(&format!("matchers.{i}.isRegex"))),
        }
    }
    let Some(starts) = p.starts_at else { return Err(required("startsAt")) };
    let Some(ends) = p.ends_at else { return Err(required("endsAt")) };
    let Some(created_by) = p.created_by else { return Err(required("createdBy")) };
    let Some(comment) = p.comment else { return Err(required("comment")) };
    let starts_at = parse_api_time(&starts).map_err(|e| parse_err(&e))?.unwrap_or(UNIX_EPOCH);
    let ends_at = parse_api_time(&ends).map_err(|e| parse_err(&e))?.unwrap_or(UNIX_EPOCH);
    Ok(Silence { id: p.id.filter(|id| !id.is_empty()), matchers, starts_at, ends_at, created_by, comment })
}

/// Alertmanager's checks of each matcher of a silence (label name, regex), with its wording.
fn validate_matchers(matchers: &[SilenceMatcher]) -> Result<(), String> {
    for (i, m) in matchers.iter().enumerate() {
        if !valid_label_name(&m.name) {
            return Err(format!("invalid label matcher {i}: invalid label name {:?}", m.name));
        }
        if m.is_regex {
            if let Err(e) = Regex::new(&m.value) {
                return Err(format!("invalid label matcher {i}: invalid regular expression {:?}: {e}", m.value));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_filter_matchers_like_alertmanager() {
        let m = parse_matcher(r#"alertname="High CPU""#).unwrap();
        assert_eq!((m.name.as_str(), m.op, m.value.as_str()), ("alertname", MatchOp::Equal, "High CPU"));
        let m = parse_matcher(" job =~ node.* ").unwrap();
        assert_eq!((m.op, m.value.as_str()), (MatchOp::Regex, "node.*"));
        assert!(m.matches("node_exporter") && !m.matches("xnode"));
        let m = parse_matcher(r#"a!="x\"y\\z\n""#).unwrap();
        assert_eq!((m.op, m.value.as_str()), (MatchOp::NotEqual, "x\"y\\z\n"));
        assert_eq!(parse_matcher("a!~b").unwrap().op, MatchOp::NotRegex);
        assert_eq!(parse_matcher("a=").unwrap().value, "");
        assert_eq!(parse_matcher("bad matcher").unwrap_err(), "bad matcher format: bad matcher");
        assert_eq!(parse_matcher("0a=b").unwrap_err(), "bad matcher format: 0a=b");
        assert!(parse_matcher(r#"a="b"c""#).unwrap_err().starts_with("matcher value contains unescaped double quote"));
        assert!(parse_matcher(r#"a="b"#).is_err());
        assert!(parse_matcher("a=~(").unwrap_err().starts_with("error parsing regexp"));
    }

    #[test]
    fn booleans_read_like_go_openapi() {
        assert!(go_bool("true") && go_bool("TRUE") && go_bool("1") && go_bool("yes"));
        assert!(!go_bool("false") && !go_bool("0") && !go_bool("maybe"));
        let f = alert_filter(Some("active=false&silenced=0&filter=alertname%3D%22x%22&receiver=team-.*")).unwrap();
        assert!(!f.active && !f.silenced && f.inhibited && f.unprocessed);
        assert_eq!(f.matchers.len(), 1);
        assert!(f.receiver.as_ref().unwrap().is_match("team-a") && !f.receiver.unwrap().is_match("xteam-a"));
        assert!(alert_filter(Some("receiver=(")).unwrap_err().starts_with("failed to parse receiver param"));
    }

    #[test]
    fn times_as_go_openapi() {
        let t = UNIX_EPOCH + Duration::from_millis(1_600_000_000_500);
        assert_eq!(api_time(t), "2020-09-13T12:26:40.500Z");
        assert_eq!(api_time(UNIX_EPOCH + Duration::from_secs(1_600_000_000)), "2020-09-13T12:26:40.000Z");
        assert_eq!(reformat("2020-09-13T12:26:40.5Z"), "2020-09-13T12:26:40.500Z");
        assert_eq!(reformat(""), "0001-01-01T00:00:00.000Z");
        assert_eq!(parse_api_time("2020-09-13T12:26:40.5Z").unwrap(), Some(t));
        assert_eq!(parse_api_time("2020-09-13T14:26:40.5+02:00").unwrap(), Some(t));
        assert_eq!(parse_api_time("2020-09-13T14:26:40.5+0200").unwrap(), Some(t));
        assert_eq!(parse_api_time("2020-09-13T12:26:40.5").unwrap(), Some(t));
        assert_eq!(parse_api_time("0001-01-01T00:00:00Z").unwrap(), None);
        assert_eq!(parse_api_time("").unwrap(), None);
        assert!(parse_api_time("yesterday").is_err());
    }

    #[test]
    fn alerts_are_validated_like_alertmanager() {
        let now = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        let body = br#"[
            {"labels": {"alertname": "a", "empty": ""}, "annotations": {"summary": "s"}, "generatorURL": "http://x/graph?g0.expr=up"},
            {"labels": {}},
            {"labels": {"a": ""}},
            {"labels": {"0bad": "x"}},
            {"labels": {"a": "x"}, "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2019-01-01T00:00:00Z"},
            {"labels": {"a": "x"}, "annotations": {"bad-name": "x"}},
            {"labels": {"a": "x"}, "endsAt": "2020-01-01T00:00:00Z"}
        ]"#;
        let (ok, errs) = parse_alerts(body, now).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].labels, Labels::from_pairs([("alertname", "a")]), "empty labels are dropped");
        assert_eq!((ok[0].starts_at, ok[0].ends_at), (now, None));
        let end = UNIX_EPOCH + Duration::from_secs(1_577_836_800);
        assert_eq!((ok[1].starts_at, ok[1].ends_at), (end, Some(end)), "starts when it ended");
        assert_eq!(
            errs.join("; "),
            "at least one label pair required; at least one label pair required; invalid label set: invalid name \
             \"0bad\"; start time must be before end time; invalid annotations: invalid name \"bad-name\""
        );
        let status = |b: &[u8]| parse_alerts(b, now).err().map(|r| r.status().as_u16());
        assert_eq!(status(b"notjson"), Some(400));
        assert_eq!(status(b"{}"), Some(400));
        assert_eq!(status(br#"[{"labels": {"a": 1}}]"#), Some(400));
        assert_eq!(status(br#"[{"labels": {"a": "x"}, "startsAt": "yesterday"}]"#), Some(400));
        assert_eq!(status(b"[{}]"), Some(422));
        assert_eq!(status(br#"[{"labels": {"a": "x"}, "generatorURL": "not a url"}]"#), Some(422));
        assert_eq!(status(b""), Some(422));
        assert_eq!(status(b"[]"), None);
    }

    #[test]
    fn silences_are_checked_like_alertmanager() {
        let ok = parse_silence(
            br#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2030-01-01T00:00:00Z",
                 "endsAt":"2030-01-02T00:00:00Z","createdBy":"me","comment":"c","id":""}"#,
        )
        .unwrap();
        assert!(ok.id.is_none() && ok.matchers[0].is_equal);
        let status = |b: &[u8]| parse_silence(b).err().map(|r| r.status().as_u16());
        assert_eq!(status(b"xx"), Some(400));
        assert_eq!(status(br#"{"matchers":[],"startsAt":"","endsAt":"","createdBy":"","comment":""}"#), Some(422));
        assert_eq!(status(br#"{"matchers":[{"name":"a","value":"b"}]}"#), Some(422));
        assert_eq!(validate_matchers(&ok.matchers), Ok(()));
        let bad = |name: &str, value: &str| {
            validate_matchers(&[SilenceMatcher {
                name: name.into(),
                value: value.into(),
                is_regex: true,
                is_equal: true,
            }])
        };
        assert_eq!(bad("0a", "x").unwrap_err(), "invalid label matcher 0: invalid label name \"0a\"");
        assert!(bad("a", "(").unwrap_err().starts_with("invalid label matcher 0: invalid regular expression \"(\""));
        assert!(check_uuid("df3c08b1-12df-4788-be46-5f7d00200178").is_ok());
        assert_eq!(check_uuid("notauuid").unwrap_err().status(), 422);
    }

    #[test]
    fn uris_as_go() {
        assert!(is_uri("http://vitals:9797/graph?g0.expr=up") && is_uri("/graph") && is_uri("mailto:a@b"));
        assert!(is_uri("") && is_uri("/graph x"));
        assert!(!is_uri("not a url") && !is_uri("http://a b/"));
    }
}
