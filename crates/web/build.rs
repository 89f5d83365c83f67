//! Builds the web UI (`ui/`, TypeScript + Vite) when its sources changed and embeds `ui/dist` into the
//! binary: `$OUT_DIR/ui_assets.rs` lists every file with its content type and `include_bytes!`.
//!
//! Set `VITALS_UI_SKIP_BUILD=1` to embed whatever `ui/dist` holds without running npm. When npm is
//! missing or the build fails, an existing `ui/dist` is embedded with a warning; without one the
//! binary serves a page saying the UI was not built (the API works either way).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let ui = manifest.join("../../ui");
    let dist = ui.join("dist");
    for input in ["src", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json"] {
        println!("cargo:rerun-if-changed={}", ui.join(input).display());
    }
    println!("cargo:rerun-if-env-changed=VITALS_UI_SKIP_BUILD");
    // A `ui/dist` rebuilt outside cargo (`npm run build`, bench/ui.sh) has new file names to embed.
    println!("cargo:rerun-if-changed={}", dist.display());
    println!("cargo:rerun-if-changed=src/ui_mime.rs");
    if ui.join("package.json").exists() && std::env::var_os("VITALS_UI_SKIP_BUILD").is_none() && stale(&ui, &dist) {
        if let Err(e) = build(&ui) {
            println!("cargo:warning=the web UI was not built ({e}); embedding the previous ui/dist if there is one");
        }
    }
    let mut files = Vec::new();
    if dist.join("index.html").exists() {
        collect(&dist, &dist, &mut files);
    }
    files.sort();
    let mut out = String::from(
        "/// The built UI: (path, content type, bytes).\npub(crate) static ASSETS: &[(&str, &str, &[u8])] = &[\n",
    );
    for (rel, path) in &files {
        out.push_str(&format!(
            "    ({:?}, {:?}, include_bytes!({:?})),\n",
            format!("/{rel}"),
            content_type(rel),
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("ui_assets.rs"), out).expect("writing ui_assets.rs");
}

/// Whether `dist` is missing or older than any UI source.
fn stale(ui: &Path, dist: &Path) -> bool {
    let Some(built) = mtime(&dist.join("index.html")) else { return true };
    let mut newest = SystemTime::UNIX_EPOCH;
    for input in ["index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json"] {
        newest = newest.max(mtime(&ui.join(input)).unwrap_or(SystemTime::UNIX_EPOCH));
    }
    newest_in(&ui.join("src"), &mut newest);
    newest > built
}

fn newest_in(dir: &Path, newest: &mut SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            newest_in(&p, newest);
        } else if let Some(t) = mtime(&p) {
            *newest = (*newest).max(t);
        }
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// `npm ci` (when node_modules is missing) and `npm run build` in `ui`.
fn build(ui: &Path) -> Result<(), String> {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    if !ui.join("node_modules").exists() {
        run(Command::new(npm).args(["ci", "--no-audit", "--no-fund"]).current_dir(ui))?;
    }
    run(Command::new(npm).args(["run", "build"]).current_dir(ui))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last: Vec<&str> = err.lines().rev().take(5).collect();
    Err(format!("{cmd:?} exited with {}: {}", out.status, last.into_iter().rev().collect::<Vec<_>>().join(" | ")))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            let abs = p.canonicalize().unwrap_or(p.clone());
            out.push((rel, abs));
        }
    }
}

// The content types, shared with the server (which needs them for `VITALS_UI_DIR`).
include!("src/ui_mime.rs");
