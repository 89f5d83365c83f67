//! Rules in the binary: which rule files a configuration names (plus the default pack), and the
//! `vitals check rules` command.

use std::path::{Path, PathBuf};

use anyhow::bail;
use vitals_rules::{RuleFile, RuleFileError};

use crate::config::Config;

/// The default rule pack, compiled in.
pub const DEFAULT_RULES: &str = include_str!("default_rules.yml");

/// Where the default pack appears in `/api/v1/rules`.
pub const DEFAULT_RULES_NAME: &str = "<vitals>/default_rules.yml";

/// Where the rules generated for `slos:` appear in `/api/v1/rules`.
pub const SLO_RULES_NAME: &str = "<vitals>/slos.yml";

fn errors_text(errs: &[RuleFileError]) -> String {
    errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
}

/// The rule files of a configuration (globs relative to the configuration's folder), parsed and
/// checked, with the default pack first unless `default_rules: false`.
pub fn load(cfg: &Config, config_path: Option<&Path>) -> anyhow::Result<Vec<(PathBuf, RuleFile)>> {
    let mut out = Vec::new();
    if cfg.default_rules.unwrap_or(true) {
        let f = vitals_rules::parse_rule_file(Path::new(DEFAULT_RULES_NAME), DEFAULT_RULES)
            .map_err(|e| anyhow::anyhow!("default rule pack: {}", errors_text(&e)))?;
        out.push((PathBuf::from(DEFAULT_RULES_NAME), f));
    }
    if !cfg.slos.is_empty() {
        out.push((PathBuf::from(SLO_RULES_NAME), vitals_rules::slo::rule_file(&cfg.slos)));
    }
    let base = config_path.and_then(Path::parent).unwrap_or(Path::new("."));
    let files = vitals_rules::expand_globs(&cfg.rule_files, base).map_err(anyhow::Error::msg)?;
    match vitals_rules::load_files(&files) {
        Ok(mut f) => out.append(&mut f),
        Err(e) => bail!("{}", errors_text(&e)),
    }
    Ok(out)
}

/// `vitals check rules FILE...`: prints what promtool prints for each file; false if any is bad.
pub fn check(files: &[PathBuf]) -> bool {
    let mut ok = true;
    for f in files {
        println!("Checking {}", f.display());
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("  FAILED:\n{}: {e}", f.display());
                ok = false;
                continue;
            }
        };
        match vitals_rules::parse_rule_file(f, &text) {
            Ok(rf) => {
                let n: usize = rf.groups.iter().map(|g| g.rules.len()).sum();
                println!("  SUCCESS: {n} rules found");
            }
            Err(errs) => {
                eprintln!("  FAILED:\n{}", errors_text(&errs));
                ok = false;
            }
        }
        println!();
    }
    ok
}
