//! Go `text/template` for alerting-rule labels and annotations, with Prometheus' template functions.
//!
//! Written for this crate (no template engine dependency) and modelled on Go's `text/template` and
//! Prometheus' `template.Expander` with option `missingkey=zero`: the text is prefixed with
//! `{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}`,
//! exactly as Prometheus' rule manager does, so error columns on line 1 match Prometheus' too.
//! `tests/template.rs` holds the conformance cases, checked against Prometheus 2.42 (`promtool`).
//!
//! Supported: text and actions with trim markers (`{{-`, `-}}`) and comments; pipelines; variables
//! (`:=`, `=`); fields on the data, on label maps, on samples; `if`/`else if`/`else`, `with`/`else with`,
//! `range` (lists, maps, integers; one or two variables; `else`; `break`/`continue`); `define`,
//! `template`, `block`; the Go builtins (`and`, `or`, `not`, `len`, `index`, `slice`, `print`,
//! `printf`, `println`, `html`, `js`, `urlquery`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`) with Go's type
//! rules (an int literal does not compare with a float: `gt $value 80` fails as in Prometheus, write
//! `80.0`); Go's `fmt` for `%v` output and `printf` verbs; every Prometheus function (`query`, `first`,
//! `label`, `value`, `strvalue`, `sortByLabel`, `humanize*`, `toTime`, `title`, `toUpper`, `toLower`,
//! `match`, `reReplaceAll`, `safeHtml`, `stripPort`, `stripDomain`, `args`, `graphLink`, `tableLink`,
//! `pathPrefix`, `externalURL`, `parseDuration`), `urlQueryEscape`, and `tmpl` (Prometheus has it in
//! console templates only); the methods `Format`, `Unix`, `UnixMilli`, `UTC`, `Year`, ... of the
//! time `toTime` returns. Regular expressions are Go's RE2 syntax (`\d`, `\w`, `\s`, `\b` ASCII-only).
//!
//! Not supported: other method calls, `call`, complex and hexadecimal-float literals, `%x` of floats,
//! custom delimiters. Query results print as `[&{map[..] 1}]` where Go prints pointer addresses.
//! Nesting is limited to 50 levels when parsing and 100 (template calls included) when executing,
//! so that no template can overflow a thread's stack; Go allows deeper recursion.

mod exec;
mod funcs;
mod gofmt;
mod gotime;
mod lex;
mod parse;
#[cfg(test)]
mod tests;
mod value;

use std::collections::{BTreeMap, HashMap};

/// Text Prometheus' rule manager puts before every label and annotation template.
const ALERT_PRELUDE: &str =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// Data a rule template sees.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateData {
    /// Labels of the alert (`.Labels`, `$labels`).
    pub labels: BTreeMap<String, String>,
    /// External labels of this server (`.ExternalLabels`, `$externalLabels`).
    pub external_labels: BTreeMap<String, String>,
    /// External URL of this server (`.ExternalURL`, `$externalURL`, `externalURL`, `pathPrefix`).
    pub external_url: String,
    /// Value of the alert's sample (`.Value`, `$value`).
    pub value: f64,
}

/// One sample returned by the `query` function.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuerySample {
    /// Labels of the series, with the metric name under `__name__`.
    pub labels: BTreeMap<String, String>,
    /// Value at the evaluation time.
    pub value: f64,
}

/// Runs PromQL for the `query` template function (instant query at the rule's evaluation time).
pub type QueryFn<'a> = &'a dyn Fn(&str) -> Result<Vec<QuerySample>, String>;

/// Why a template failed, worded as Go's `text/template` (Prometheus prefixes `error executing template NAME: `).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// The text is not a valid template, e.g. `template: name:1: function "humanise" not defined`.
    #[error("template: {name}:{line}: {message}")]
    Parse {
        /// Name the template was parsed under.
        name: String,
        /// Line (1-based) where the problem was found.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Executing failed, e.g. `template: name:1:115: executing "name" at <humanize "x">: error calling humanize: ...`.
    #[error("template: {name}:{line}:{column}: executing {template:?} at <{context}>: {message}")]
    Exec {
        /// Name the template was parsed under.
        name: String,
        /// Line (1-based) of the failing node.
        line: usize,
        /// Byte column (0-based, counting the prelude on line 1 as Go does) of the failing node.
        column: usize,
        /// Name of the (possibly `define`d) template being executed.
        template: String,
        /// The failing node as template text, cut at 20 characters.
        context: String,
        /// What went wrong.
        message: String,
    },
}

/// A parsed template (parse once, execute each evaluation).
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    /// Full text including the prelude; node positions index into it.
    text: String,
    main: Vec<parse::Node>,
    defines: HashMap<String, Vec<parse::Node>>,
}

impl Template {
    /// Parses `text` as a rule label or annotation template named `name`.
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let full = format!("{ALERT_PRELUDE}{text}");
        let parsed = parse::parse(name, &full)?;
        Ok(Template { name: name.to_string(), text: full, main: parsed.main, defines: parsed.defines })
    }

    /// Executes the template on `data`, running `query` for the `query` function.
    pub fn execute(&self, data: &TemplateData, query: QueryFn<'_>) -> Result<String, TemplateError> {
        exec::execute(self, data, query)
    }

    /// Name the template was parsed under.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Parse + execute in one go (Prometheus' `Expander`).
pub fn expand(name: &str, text: &str, data: &TemplateData, query: QueryFn<'_>) -> Result<String, TemplateError> {
    Template::parse(name, text)?.execute(data, query)
}

/// Line (1-based) and byte column (0-based) of `pos` in `text`, as Go's `ErrorContext` computes them.
fn line_column(text: &str, pos: usize) -> (usize, usize) {
    let before = &text[..pos.min(text.len())];
    let line = 1 + before.matches('\n').count();
    let column = match before.rfind('\n') {
        Some(nl) => pos - (nl + 1),
        None => pos,
    };
    (line, column)
}
