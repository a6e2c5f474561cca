//! The layers, checked on the source text (like the Dockerfile test in
//! `operations.rs`): use cases and storage sit below HTTP and the wiring.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Every source file under `src/`, with its path relative to `src/`.
pub fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
            (relative, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// Code lines, without the comments that may name other layers.
pub fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter(|(_, line)| !line.trim_start().starts_with("//")).map(|(i, l)| (i + 1, l))
}

#[test]
fn no_module_below_http_imports_the_http_layer_or_the_wiring() {
    // The composition root and the binary's entry points know both sides.
    let wiring = ["app.rs", "cli.rs", "main.rs", "lib.rs"];
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        if wiring.contains(&path.as_str()) || path.starts_with("http/") {
            continue;
        }
        for (line_number, line) in code_lines(&text) {
            if ["crate::http", "crate::app", "super::app", "super::http"].iter().any(|layer| line.contains(layer)) {
                offenders.push(format!("src/{path}:{line_number}: {}", line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "below HTTP, but importing it or the wiring:\n{}", offenders.join("\n"));
}
