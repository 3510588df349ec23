//! A test over the `use` lines (and every `crate::` path) of `src/`: each top-level module imports
//! only from the layers below it (ARCHITECTURE.md), so that no upward import or circle between
//! layers creeps back in. Comments and test modules are not read.

/// The layers, lowest first; a module may use its own layer's and the ones below.
const LAYERS: &[&[&str]] = &[
    // below all: the job model, errors, the configuration
    &["error", "progress", "config"],
    // what the engine stands on: milvus-backup's format, the storages, Milvus
    &["format", "storage", "milvus"],
    &["engine"],
    // milvault's own state: it stores the engine's records (policies, drill reports)
    &["db"],
    &["jobs"],
    // the door
    &["auth"],
    // the front ends
    &["server", "cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The text of a source file without comments and without its `#[cfg(test)]` modules.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names: `crate::x::...` paths and `use crate::{x::..., y, ...}`.
fn modules_named(code: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // a grouped use: the first segment of each item at depth 0
            let mut depth = 0;
            let mut item_start = true;
            let mut word = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => word.push(c),
                    _ if item_start && !word.is_empty() => {
                        out.insert(std::mem::take(&mut word));
                        item_start = false;
                    }
                    _ => {}
                }
            }
            if !word.is_empty() {
                out.insert(word);
            }
        } else {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(word);
        }
    }
    out
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut upward = Vec::new();
    let mut files = 0;
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            // test-only files are tests, whatever layer they sit in
            if !rel.ends_with(".rs") || rel.ends_with("tests.rs") || rel.contains("/tests/") {
                continue;
            }
            let top = rel.split(['/', '.']).next().unwrap().to_string();
            let Some(own) = layer_of(&top) else {
                continue;
            };
            files += 1;
            let code = code_of(&std::fs::read_to_string(&path).unwrap());
            for m in modules_named(&code) {
                if let Some(theirs) = layer_of(&m) {
                    if theirs > own {
                        upward.push(format!("{rel} uses crate::{m}"));
                    }
                }
            }
        }
    }
    assert!(files > 100, "read only {files} files");
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

#[test]
fn grouped_and_plain_paths_are_both_read() {
    let code = code_of(
        "use crate::{\n    config::X,\n    db::{a, b},\n    error::Result,\n};\nfn f() { crate::jobs::notify::x(); }\n// crate::server in a comment\n",
    );
    let found: Vec<String> = modules_named(&code).into_iter().collect();
    assert_eq!(found, ["config", "db", "error", "jobs"]);
}
