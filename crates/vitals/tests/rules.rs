//! `vitals check rules` and `vitals test rules` against promtool on a corpus of good and bad rule
//! files and rule unit tests (tests/rules/): both must accept and reject the same files.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn files(dir: &str) -> Vec<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules").join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml") && p.file_name().is_some_and(|n| n != "rules.yml"))
        .collect();
    v.sort();
    v
}

fn status(bin: &str, args: &[&str], file: &Path) -> (bool, String) {
    let out = Command::new(bin).args(args).arg(file).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn check_rules_accepts_and_rejects_what_promtool_does() {
    let vitals = env!("CARGO_BIN_EXE_vitals");
    let promtool = common::have_peer("promtool");
    for (dir, want) in [("good", true), ("bad", false)] {
        for f in files(dir) {
            let (ok, text) = status(vitals, &["check", "rules"], &f);
            assert_eq!(ok, want, "vitals check rules {}:\n{text}", f.display());
            if !want {
                let name = f.file_name().unwrap().to_string_lossy().to_string();
                assert!(text.contains(&name), "the error names the file: {text}");
            }
            if promtool {
                let (pok, ptext) = status("promtool", &["check", "rules"], &f);
                assert_eq!(pok, ok, "promtool disagrees on {}:\npromtool: {ptext}\nvitals: {text}", f.display());
            }
        }
    }
    // Errors name the line, the group and the rule.
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/bad/bad_expr.yml");
    let (_, text) = status(vitals, &["check", "rules"], &bad);
    assert!(text.contains("bad_expr.yml:5: group \"g\", rule 1, \"a:b\": could not parse expression"), "{text}");
}

#[test]
fn test_rules_passes_and_fails_like_promtool() {
    let vitals = env!("CARGO_BIN_EXE_vitals");
    let promtool = common::have_peer("promtool");
    let cases = files("unit");
    assert!(cases.len() >= 3);
    for f in cases {
        let want = f.file_name().unwrap().to_string_lossy().starts_with("pass");
        let (ok, text) = status(vitals, &["test", "rules"], &f);
        assert_eq!(ok, want, "vitals test rules {}:\n{text}", f.display());
        if !want {
            assert!(text.contains("FAILED") && (text.contains("exp:") || text.contains("exp: [")), "{text}");
        }
        if promtool {
            let (pok, ptext) = status("promtool", &["test", "rules"], &f);
            assert_eq!(pok, ok, "promtool disagrees on {}:\npromtool: {ptext}\nvitals: {text}", f.display());
        }
    }
}
