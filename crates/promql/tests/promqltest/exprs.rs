//! What the runner needs to know about an expression without evaluating it: which series its
//! selectors could read, and the `@`-rewritten form upstream's extra checks use.

use std::sync::LazyLock;
use std::time::{Duration, UNIX_EPOCH};

use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{self, AtModifier, Expr, VectorSelector};
use regex::Regex;
use vitals_model::{Labels, MatchOp, Matcher, METRIC_NAME};

/// Functions whose result depends on the evaluation time even when their arguments don't
/// (upstream's `AtModifierUnsafeFunctions`, plus the query-context functions).
const AT_UNSAFE_FUNCTIONS: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
    "start",
    "end",
    "range",
    "step",
];

/// True when `expr` uses the experimental `anchored`/`smoothed` range-selector modifiers (which
/// `promql-parser` can't parse); string literals are not looked into.
pub fn uses_extended_range_modifier(expr: &str) -> bool {
    static STRINGS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`"#).unwrap());
    static MODIFIER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(?:anchored|smoothed)\b").unwrap());
    MODIFIER.is_match(&STRINGS.replace_all(expr, "\"\""))
}

/// True when some selector of `expr` could select one of `series`. An expression that doesn't
/// parse (or has a matcher that doesn't compile) counts as selecting them, to stay on the safe side.
pub fn may_select_any(expr: &str, series: &[Labels]) -> bool {
    if series.is_empty() {
        return false;
    }
    let Ok(e) = parser::parse(expr) else {
        return true;
    };
    let mut selectors = Vec::new();
    collect_selectors(&e, &mut selectors);
    for vs in selectors {
        let Some(groups) = matcher_groups(vs) else {
            return true;
        };
        let hit =
            groups.iter().any(|g| series.iter().any(|l| g.iter().all(|m| m.matches(l.get(&m.name).unwrap_or("")))));
        if hit {
            return true;
        }
    }
    false
}

fn collect_selectors<'a>(e: &'a Expr, out: &mut Vec<&'a VectorSelector>) {
    match e {
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Aggregate(a) => {
            collect_selectors(&a.expr, out);
            if let Some(p) = &a.param {
                collect_selectors(p, out);
            }
        }
        Expr::Unary(u) => collect_selectors(&u.expr, out),
        Expr::Binary(b) => {
            collect_selectors(&b.lhs, out);
            collect_selectors(&b.rhs, out);
        }
        Expr::Paren(p) => collect_selectors(&p.expr, out),
        Expr::Subquery(s) => collect_selectors(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| collect_selectors(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// The selector as alternatives of matcher lists (one list unless it uses `or`).
fn matcher_groups(vs: &VectorSelector) -> Option<Vec<Vec<Matcher>>> {
    let convert = |ms: &[promql_parser::label::Matcher]| -> Option<Vec<Matcher>> {
        ms.iter()
            .map(|m| {
                let op = match &m.op {
                    PMatchOp::Equal => MatchOp::Equal,
                    PMatchOp::NotEqual => MatchOp::NotEqual,
                    PMatchOp::Re(_) => MatchOp::Regex,
                    PMatchOp::NotRe(_) => MatchOp::NotRegex,
                };
                Matcher::new(op, m.name.as_str(), m.value.as_str()).ok()
            })
            .collect()
    };
    let mut base = convert(&vs.matchers.matchers)?;
    if let Some(name) = &vs.name {
        base.push(Matcher::equal(METRIC_NAME, name.as_str()));
    }
    if vs.matchers.or_matchers.is_empty() {
        return Some(vec![base]);
    }
    vs.matchers
        .or_matchers
        .iter()
        .map(|g| {
            let mut group = base.clone();
            group.extend(convert(g)?);
            Some(group)
        })
        .collect()
}

/// `expr` with `@ t` added to every selector and subquery that lacks one (selectors inside a
/// subquery are left alone), as upstream's extra instant checks do. `None` when the expression
/// doesn't parse or uses a function that makes the rewrite change the result.
pub fn with_at_modifier(expr: &str, t: i64) -> Option<String> {
    // Printing loses how escapes were written (`"\xff"` comes back as `"ÿ"`), which can change
    // what the expression means.
    if expr.contains('\\') {
        return None;
    }
    let mut e = parser::parse(expr).ok()?;
    if any_call(&e, &|name| AT_UNSAFE_FUNCTIONS.contains(&name)) {
        return None;
    }
    let at = AtModifier::At(UNIX_EPOCH + Duration::from_millis(u64::try_from(t).ok()?));
    set_at(&mut e, &at);
    let text = e.to_string();
    // Only use the rewrite when it reads back as the same expression.
    let mut back = parser::parse(&text).ok()?;
    set_at(&mut back, &at);
    (back.to_string() == text).then_some(text)
}

fn set_at(e: &mut Expr, at: &AtModifier) {
    match e {
        Expr::VectorSelector(vs) => {
            vs.at.get_or_insert_with(|| at.clone());
        }
        Expr::MatrixSelector(ms) => {
            ms.vs.at.get_or_insert_with(|| at.clone());
        }
        Expr::Subquery(s) => {
            // With an `@` on the subquery, nothing inside it changes.
            s.at.get_or_insert_with(|| at.clone());
        }
        Expr::Aggregate(a) => {
            set_at(&mut a.expr, at);
            if let Some(p) = &mut a.param {
                set_at(p, at);
            }
        }
        Expr::Unary(u) => set_at(&mut u.expr, at),
        Expr::Binary(b) => {
            set_at(&mut b.lhs, at);
            set_at(&mut b.rhs, at);
        }
        Expr::Paren(p) => set_at(&mut p.expr, at),
        Expr::Call(c) => c.args.args.iter_mut().for_each(|a| set_at(a, at)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn any_call(e: &Expr, pred: &dyn Fn(&str) -> bool) -> bool {
    match e {
        Expr::Call(c) => pred(c.func.name) || c.args.args.iter().any(|a| any_call(a, pred)),
        Expr::Aggregate(a) => any_call(&a.expr, pred) || a.param.as_ref().is_some_and(|p| any_call(p, pred)),
        Expr::Unary(u) => any_call(&u.expr, pred),
        Expr::Binary(b) => any_call(&b.lhs, pred) || any_call(&b.rhs, pred),
        Expr::Paren(p) => any_call(&p.expr, pred),
        Expr::Subquery(s) => any_call(&s.expr, pred),
        _ => false,
    }
}
