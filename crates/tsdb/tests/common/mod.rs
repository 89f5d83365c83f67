//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use vitals_model::{Labels, MatchOp, Matcher, Queryable, Sample};
use vitals_tsdb::{Db, HeadOptions, Options};

pub const HOUR: i64 = 3_600_000;

pub fn opts(block_range: i64) -> Options {
    Options { head: HeadOptions { block_range, ..HeadOptions::default() }, ..Options::default() }
}

pub fn open(dir: &Path, o: Options) -> Arc<Db> {
    Db::open(dir, o).expect("open db")
}

pub fn series(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut v: Vec<(&str, &str)> = vec![("__name__", name)];
    v.extend_from_slice(pairs);
    Labels::from_pairs(v)
}

pub fn m(name: &str, value: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, name, value).unwrap()
}

pub fn re(name: &str, value: &str) -> Matcher {
    Matcher::new(MatchOp::Regex, name, value).unwrap()
}

/// Every series matching `matchers` in `[mint, maxt]`, with all their samples.
pub fn dump(db: &Db, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, Vec<Sample>)> {
    let q = db.querier(mint, maxt).unwrap();
    q.select(matchers, None)
        .unwrap()
        .iter()
        .map(|s| {
            let mut it = s.iter();
            let mut v = Vec::new();
            while let Some(x) = it.next() {
                v.push(x);
            }
            (s.labels().clone(), v)
        })
        .collect()
}
