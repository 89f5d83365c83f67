//! Variables in scenario requests: `${name}` in a URL's path, a header value or a body is replaced by
//! the value a virtual user holds for `name`, taken from a row of a CSV data file or extracted from an
//! earlier response (token chaining: log in, keep the token, send it with the next requests).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A string with `${name}` placeholders, split into literal text and variable names.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Var(String),
}

/// A `${` without its `}`, or an empty or invalid name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad variable reference in {0:?}: expected ${{name}} with a name of letters, digits, '_', '-' or '.'")]
pub struct TemplateError(pub String);

impl Template {
    /// Parses `s`; `$$` stands for a literal `$`.
    pub fn parse(s: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('$') {
            text.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(more) = after.strip_prefix('$') {
                text.push('$');
                rest = more;
            } else if let Some(inner) = after.strip_prefix('{') {
                let end = inner.find('}').ok_or_else(|| TemplateError(s.to_string()))?;
                let name = &inner[..end];
                let valid = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || "_-.".contains(c));
                if !valid {
                    return Err(TemplateError(s.to_string()));
                }
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Var(name.to_string()));
                rest = &inner[end + 1..];
            } else {
                text.push('$');
                rest = after;
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template { parts })
    }

    /// Whether it has any variable.
    pub fn is_dynamic(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Var(_)))
    }

    /// The variable names used.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The text with each variable replaced by its value (empty when the VU has none yet).
    pub fn render(&self, vars: &HashMap<String, String>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => out.push_str(vars.get(v).map_or("", String::as_str)),
            }
        }
        out
    }
}

/// Where a variable's value comes from in a response.
#[derive(Debug, Clone)]
pub enum Extract {
    /// A value in a JSON body, by a path like `data.items[0].id` (a leading `$.` is allowed);
    /// strings are taken as they are, other values as JSON text.
    Json(Vec<PathStep>),
    /// A response header (first one with this name, case-insensitive).
    Header(String),
    /// The first capture group (or the whole match) of a regular expression over the body.
    Regex(regex::Regex),
}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq)]
pub enum PathStep {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A JSON path that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad JSON path {0:?}: expected keys and [index] steps, e.g. data.items[0].id")]
pub struct PathError(pub String);

/// Parses `data.items[0].id` or `$.data.items[0].id`.
pub fn parse_json_path(s: &str) -> Result<Vec<PathStep>, PathError> {
    let err = || PathError(s.to_string());
    let body = s.strip_prefix("$.").or_else(|| s.strip_prefix('$')).unwrap_or(s);
    let mut steps = Vec::new();
    for seg in body.split('.') {
        let (key, mut idx) = match seg.find('[') {
            Some(i) => (&seg[..i], &seg[i..]),
            None => (seg, ""),
        };
        if key.contains(']') {
            return Err(err());
        }
        if !key.is_empty() {
            steps.push(PathStep::Key(key.to_string()));
        } else if idx.is_empty() {
            return Err(err());
        }
        while let Some(inner) = idx.strip_prefix('[') {
            let end = inner.find(']').ok_or_else(err)?;
            steps.push(PathStep::Index(inner[..end].parse().map_err(|_| err())?));
            idx = &inner[end + 1..];
        }
        if !idx.is_empty() {
            return Err(err());
        }
    }
    if steps.is_empty() {
        return Err(err());
    }
    Ok(steps)
}

impl PartialEq for Extract {
    fn eq(&self, other: &Extract) -> bool {
        match (self, other) {
            (Extract::Json(a), Extract::Json(b)) => a == b,
            (Extract::Header(a), Extract::Header(b)) => a == b,
            (Extract::Regex(a), Extract::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Extract {
    /// The value in a response, if found.
    pub fn apply(&self, headers: &[(String, String)], body: &[u8]) -> Option<String> {
        match self {
            Extract::Header(name) => headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()),
            Extract::Regex(re) => {
                let text = String::from_utf8_lossy(body);
                let caps = re.captures(&text)?;
                caps.get(1).or_else(|| caps.get(0)).map(|m| m.as_str().to_string())
            }
            Extract::Json(path) => {
                let v: serde_json::Value = serde_json::from_slice(body).ok()?;
                match json_at(v, path)? {
                    serde_json::Value::String(s) => Some(s),
                    serde_json::Value::Null => None,
                    other => Some(other.to_string()),
                }
            }
        }
    }

    /// Whether it needs the response headers.
    pub fn needs_headers(&self) -> bool {
        matches!(self, Extract::Header(_))
    }
}

/// The value at `path` in a JSON document.
pub fn json_at(mut v: serde_json::Value, path: &[PathStep]) -> Option<serde_json::Value> {
    for step in path {
        v = match step {
            PathStep::Key(k) => v.get_mut(k)?.take(),
            PathStep::Index(i) => v.get_mut(*i)?.take(),
        };
    }
    Some(v)
}

/// Rows of a CSV file (first line: column names), handed out to iterations in turn.
#[derive(Debug)]
pub struct DataTable {
    /// Column names.
    pub columns: Vec<String>,
    rows: Vec<Vec<String>>,
    next: AtomicUsize,
}

/// A CSV data file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be read or parsed.
    #[error("{file}: {message}")]
    Bad {
        /// The file as named.
        file: String,
        /// What is wrong (with the line when known).
        message: String,
    },
}

impl DataTable {
    /// Reads a CSV file with a header line; every row must have as many fields as the header.
    pub fn load(path: &Path) -> Result<DataTable, DataError> {
        let file = path.display().to_string();
        let bad = |message: String| DataError::Bad { file: file.clone(), message };
        let mut r = csv::ReaderBuilder::new().has_headers(true).from_path(path).map_err(|e| bad(e.to_string()))?;
        let columns: Vec<String> =
            r.headers().map_err(|e| bad(e.to_string()))?.iter().map(|h| h.trim().to_string()).collect();
        if columns.is_empty() || columns.iter().any(String::is_empty) {
            return Err(bad("line 1: every column needs a name".into()));
        }
        let mut rows = Vec::new();
        for rec in r.records() {
            let rec = rec.map_err(|e| bad(e.to_string()))?;
            rows.push(rec.iter().map(str::to_string).collect());
        }
        if rows.is_empty() {
            return Err(bad("no data rows".into()));
        }
        Ok(DataTable { columns, rows, next: AtomicUsize::new(0) })
    }

    /// Puts the next row's values (round robin over the file) into `vars`.
    pub fn next_row(&self, vars: &mut HashMap<String, String>) {
        let row = &self.rows[self.next.fetch_add(1, Ordering::Relaxed) % self.rows.len()];
        for (c, v) in self.columns.iter().zip(row) {
            vars.insert(c.clone(), v.clone());
        }
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows (never true for a loaded table).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_and_reject_bad_references() {
        let t = Template::parse("/users/${id}?t=${token}&cost=$$5&x=$y").unwrap();
        assert!(t.is_dynamic());
        assert_eq!(t.vars().collect::<Vec<_>>(), ["id", "token"]);
        let vars: HashMap<String, String> = [("id".to_string(), "42".to_string())].into();
        assert_eq!(t.render(&vars), "/users/42?t=&cost=$5&x=$y");
        assert!(!Template::parse("/plain").unwrap().is_dynamic());
        for bad in ["${", "${}", "a${b c}", "${x"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn extracts_json_headers_and_regex() {
        let body = br#"{"data":{"token":"abc","items":[{"id":7},{"id":8}],"ok":true}}"#;
        let json = |p: &str| Extract::Json(parse_json_path(p).unwrap()).apply(&[], body);
        assert_eq!(json("data.token").as_deref(), Some("abc"));
        assert_eq!(json("$.data.items[1].id").as_deref(), Some("8"));
        assert_eq!(json("data.ok").as_deref(), Some("true"));
        assert_eq!(json("data.missing"), None);
        assert_eq!(json("data.items[5].id"), None);
        for bad in ["", "a..b", "a[x]", "a[1", "a]"] {
            assert!(parse_json_path(bad).is_err(), "{bad}");
        }
        let headers = vec![("Location".to_string(), "/orders/9".to_string())];
        assert_eq!(Extract::Header("location".into()).apply(&headers, b"").as_deref(), Some("/orders/9"));
        let re = Extract::Regex(regex::Regex::new(r"id=(\d+)").unwrap());
        assert_eq!(re.apply(&[], b"x id=123 y").as_deref(), Some("123"));
        assert_eq!(re.apply(&[], b"nothing"), None);
    }

    #[test]
    fn csv_rows_go_round_robin() {
        let dir = std::env::temp_dir().join(format!("vitals-load-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("users.csv");
        std::fs::write(&f, "user,pass\nann,\"a,1\"\nbob,b2\n").unwrap();
        let t = DataTable::load(&f).unwrap();
        assert_eq!((t.columns.clone(), t.len()), (vec!["user".to_string(), "pass".to_string()], 2));
        let mut vars = HashMap::new();
        let mut seen = Vec::new();
        for _ in 0..3 {
            t.next_row(&mut vars);
            seen.push(format!("{}:{}", vars["user"], vars["pass"]));
        }
        assert_eq!(seen, ["ann:a,1", "bob:b2", "ann:a,1"]);
        std::fs::write(&f, "user,pass\nann\n").unwrap();
        let e = DataTable::load(&f).unwrap_err().to_string();
        assert!(e.contains("users.csv") && e.contains("line: 2"), "{e}");
        std::fs::write(&f, "user\n").unwrap();
        assert!(DataTable::load(&f).unwrap_err().to_string().contains("no data rows"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
