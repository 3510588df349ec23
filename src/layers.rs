//! A test over the `use` lines (and every `crate::` path) of `src/`: each top-level module imports
//! only from the layers below it (ARCHITECTURE.md), so that no upward import or circle between
//! layers creeps back in, and that no two modules (two levels deep: `engine::commands`) of
//! `src/` or of the portal's `app/src/` import each other, directly or round a circle. Comments
//! and test modules are not read.

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

/// Every source file under `src` but test-only ones (`tests.rs`, `tests/`): its path relative to
/// `src` and its code without comments and test modules.
fn source_files(src: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            // test-only files are tests, whatever layer they sit in
            if rel.ends_with(".rs") && !rel.ends_with("tests.rs") && !rel.contains("/tests/") {
                out.push((rel, code_of(&std::fs::read_to_string(&path).unwrap())));
            }
        }
    }
    out
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut upward = Vec::new();
    let mut files = 0;
    for (rel, code) in source_files(&src) {
        let top = rel.split(['/', '.']).next().unwrap().to_string();
        let Some(own) = layer_of(&top) else {
            continue;
        };
        files += 1;
        for m in modules_named(&code) {
            if let Some(theirs) = layer_of(&m) {
                if theirs > own {
                    upward.push(format!("{rel} uses crate::{m}"));
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

/// Every `crate::` path `code` names, grouped uses expanded (`crate::{a::{b, c}, d}` is `a::b`,
/// `a::c` and `d`), `as` renames dropped.
fn paths_named(code: &str) -> Vec<String> {
    fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
        let (mut depth, mut item) = (0, String::new());
        let mut items = Vec::new();
        for c in tree.chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(std::mem::take(&mut item));
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
        items.push(item);
        for item in items {
            let item: String = item.split_whitespace().collect::<Vec<_>>().join(" ");
            let item = item.split(" as ").next().unwrap_or_default().trim();
            match item.split_once('{') {
                Some((head, inner)) => {
                    let inner = inner.rsplit_once('}').map_or(inner, |(i, _)| i);
                    expand(&format!("{prefix}{head}"), inner, out);
                }
                None if !item.is_empty() => out.push(format!("{prefix}{item}")),
                None => {}
            }
        }
    }
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if rest.starts_with('{') {
            let mut depth = 0;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            expand("", &rest[1..end], &mut out);
        } else {
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(path.trim_end_matches(':').to_string());
        }
    }
    out
}

/// The module a source file is, as a path (`engine/commands/create.rs` is `engine::commands::create`).
fn module_of(rel: &str) -> String {
    let rel = rel.trim_end_matches(".rs").trim_end_matches("/mod");
    rel.replace('/', "::")
}

/// The first module circle among `edges` (module -> modules it uses), if any.
fn find_circle(
    edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut circle = path[i..].to_vec();
            circle.push(m.to_string());
            return Some(circle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    edges
        .keys()
        .find_map(|m| visit(m, edges, &mut Vec::new(), &mut done))
}

/// Modules are compared two levels deep (`engine::commands`, `server::rest`, `db`): a module
/// and the modules inside it are one; between any two others, imports go one way only.
/// Returns the first circle among the modules of the crate whose sources are in `src`.
fn circle_in(src: &std::path::Path) -> Option<Vec<String>> {
    let texts: Vec<(String, String)> = source_files(src)
        .into_iter()
        .map(|(rel, code)| (module_of(&rel), code))
        .collect();
    let two_deep = |m: &str| m.split("::").take(2).collect::<Vec<_>>().join("::");
    let known: std::collections::BTreeSet<String> =
        texts.iter().map(|(m, _)| two_deep(m)).collect();
    let mut edges = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for (module, code) in &texts {
        let from = two_deep(module);
        for path in paths_named(code) {
            // the longest known module the path starts with (an item of `engine` is `engine`)
            let segs: Vec<&str> = path.split("::").collect();
            let to = (1..=segs.len().min(2))
                .rev()
                .map(|n| segs[..n].join("::"))
                .find(|m| known.contains(m));
            if let Some(to) = to {
                let nested =
                    from.starts_with(&format!("{to}::")) || to.starts_with(&format!("{from}::"));
                if to != from && !nested {
                    edges.entry(from.clone()).or_default().insert(to);
                }
            }
        }
    }
    assert!(
        edges.len() > 5,
        "read only {} modules' imports",
        edges.len()
    );
    find_circle(&edges)
}

/// Neither the engine and server (`src/`) nor the portal (`app/src/`) has a circle of imports.
#[test]
fn no_circle_between_modules() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for crate_src in ["src", "app/src"] {
        let circle = circle_in(&root.join(crate_src));
        assert_eq!(circle, None, "a circle of imports in {crate_src}");
    }
}

#[test]
fn a_circle_is_found_and_grouped_uses_are_expanded() {
    let paths = paths_named("use crate::{a::{b, c::D as E}, f};\nfn g() { crate::h::i(); }");
    assert_eq!(paths, ["a::b", "a::c::D", "f", "h::i"]);
    let edges = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
        .iter()
        .fold(
            std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new(),
            |mut m, (x, y)| {
                m.entry(x.to_string()).or_default().insert(y.to_string());
                m
            },
        );
    assert_eq!(
        find_circle(&edges),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(module_of("engine/commands/mod.rs"), "engine::commands");
}
