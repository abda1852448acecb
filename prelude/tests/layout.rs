//! The prelude's rooms stand on floors: in every folder (the crate root, `data`, `vision`,
//! `data/transform`, ...), no two of its files or subfolders import each other, directly or
//! round a longer circle. A change that makes `models` use `charts` while `charts` uses
//! `models` fails here with the circle and the lines that close it.
//!
//! The scan reads the sources, not the compiler's view: every `crate::`, `super::` and
//! `self::` path outside comments (use trees included) is resolved to the file that defines
//! what it names, following the folders' `pub use` re-exports.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// One source file: its module path (`["data", "transform", "imputer"]`; `mod.rs` and
/// `lib.rs` are their folder's module) and its text without comments.
struct Source {
    file: String,
    module: Vec<String>,
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    collect(&root, &mut files);
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&root).unwrap();
            let mut module: Vec<String> = rel
                .iter()
                .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            Source {
                file: rel.to_string_lossy().into_owned(),
                module,
                code: strip_comments(&fs::read_to_string(&path).unwrap()),
            }
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text with `//` and `/* */` comments blanked (doc links are not imports); string
/// literals are kept whole so that a `//` inside one does not start a comment.
fn strip_comments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if bytes[i..].starts_with(b"/*") {
            let end = text[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |e| i + 2 + e + 2);
            i = end;
            out.push(' ');
        } else if bytes[i] == b'"' && (i == 0 || bytes[i - 1] != b'\'') {
            let start = i;
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
            out.push_str(&text[start..i]);
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Every path that starts at `crate::`, `super::` or `self::`, as segments after that start
/// resolved against the file's module, with use trees (`a::{b, c::d}`) expanded.
fn paths(source: &Source) -> Vec<Vec<String>> {
    let code = source.code.as_bytes();
    let mut found = vec![];
    let mut i = 0;
    while i < code.len() {
        let boundary = i == 0 || !(code[i - 1].is_ascii_alphanumeric() || code[i - 1] == b'_');
        if !(boundary
            && ["crate::", "super::", "self::"]
                .iter()
                .any(|p| code[i..].starts_with(p.as_bytes())))
        {
            i += 1;
            continue;
        }
        // Resolve the leading crate/super/self chain to an absolute module path: `super` in
        // module a::x (file a/x.rs) is a, in module a (a/mod.rs) the crate root.
        let mut base = source.module.clone();
        let mut j = i;
        loop {
            if code[j..].starts_with(b"crate::") {
                base.clear();
                j += 7;
            } else if code[j..].starts_with(b"super::") {
                base.pop();
                j += 7;
            } else if code[j..].starts_with(b"self::") {
                j += 6;
            } else {
                break;
            }
        }
        let (trees, end) = use_tree(code, j);
        for tree in trees {
            let mut path = base.clone();
            path.extend(tree);
            found.push(path);
        }
        i = end.max(i + 1);
    }
    found
}

/// Parses a path or use tree at `at`: `a::b`, `a::{b, c::{d}}`, `a::*`. Returns every leaf
/// path and where parsing stopped.
fn use_tree(code: &[u8], mut at: usize) -> (Vec<Vec<String>>, usize) {
    let skip_space = |at: &mut usize| {
        while *at < code.len() && code[*at].is_ascii_whitespace() {
            *at += 1;
        }
    };
    let mut prefix: Vec<String> = vec![];
    loop {
        skip_space(&mut at);
        if at < code.len() && code[at] == b'{' {
            at += 1;
            let mut leaves = vec![];
            loop {
                skip_space(&mut at);
                if at >= code.len() || code[at] == b'}' {
                    return (leaves, at + 1);
                }
                let (inner, end) = use_tree(code, at);
                for leaf in inner {
                    let mut path = prefix.clone();
                    path.extend(leaf);
                    leaves.push(path);
                }
                at = end;
                skip_space(&mut at);
                if at < code.len() && code[at] == b',' {
                    at += 1;
                }
            }
        }
        let start = at;
        while at < code.len() && (code[at].is_ascii_alphanumeric() || code[at] == b'_') {
            at += 1;
        }
        if at > start {
            prefix.push(String::from_utf8_lossy(&code[start..at]).into_owned());
        }
        if code[at..].starts_with(b"::") {
            at += 2;
        } else {
            // `self` inside braces names the prefix itself; `as x` renames do not matter.
            if prefix.last().is_some_and(|s| s == "self") {
                prefix.pop();
            }
            return (vec![prefix], at);
        }
    }
}

/// The module tree: which module paths exist, and which file defines each public name.
struct Modules {
    modules: BTreeSet<Vec<String>>,
    files: BTreeMap<Vec<String>, String>,
    definitions: Vec<(Vec<String>, String, String)>,
}

impl Modules {
    fn new(sources: &[Source]) -> Modules {
        let mut definitions = vec![];
        for s in sources {
            for keyword in [
                "fn ", "struct ", "enum ", "trait ", "type ", "const ", "static ", "mod ",
            ] {
                for (at, _) in s.code.match_indices(keyword) {
                    let before = s.code[..at].trim_end();
                    if !(before.ends_with("pub") || before.ends_with(')')) {
                        continue;
                    }
                    let name: String = s.code[at + keyword.len()..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    definitions.push((s.module.clone(), name, s.file.clone()));
                }
            }
            for (at, _) in s.code.match_indices("macro_rules!") {
                let name: String = s.code[at + 12..]
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                definitions.push((s.module.clone(), name, s.file.clone()));
            }
        }
        Modules {
            modules: sources.iter().map(|s| s.module.clone()).collect(),
            files: sources
                .iter()
                .map(|s| (s.module.clone(), s.file.clone()))
                .collect(),
            definitions,
        }
    }

    /// The file a path ends in: the deepest module it walks through, then the file below that
    /// module which defines the item it names (re-exports followed by looking for the
    /// definition anywhere under the module).
    fn resolve(&self, path: &[String]) -> Option<String> {
        let mut module = vec![];
        let mut rest = path;
        while let Some((first, tail)) = rest.split_first() {
            let mut next = module.clone();
            next.push(first.clone());
            if !self.modules.contains(&next) {
                break;
            }
            module = next;
            rest = tail;
        }
        let Some(item) = rest.first() else {
            return self.files.get(&module).cloned();
        };
        self.definitions
            .iter()
            .filter(|(m, name, _)| name == item && m.starts_with(&module))
            .min_by_key(|(m, _, _)| m.len())
            .map(|(_, _, file)| file.clone())
            .or_else(|| self.files.get(&module).cloned())
    }
}

/// The part of `file` that stands for it among the entries of folder `dir` (`dir` = "" for
/// src): `data/transform/imputer.rs` in `data` is `transform`; `None` outside `dir`, and for
/// the folder's own `mod.rs` (it only declares and re-exports its rooms).
fn room(file: &str, dir: &str) -> Option<String> {
    let rest = if dir.is_empty() {
        file
    } else {
        file.strip_prefix(dir)?.strip_prefix('/')?
    };
    let first = rest.split('/').next().unwrap();
    if rest == "mod.rs" || rest == "lib.rs" {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_string())
}

/// A circle in a directed graph, if there is one.
fn find_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, done, stack) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut done, &mut vec![]))
}

/// Every import between rooms of every folder: (folder, from room, to room) -> the files that
/// make that edge.
fn edges_by_folder(sources: &[Source]) -> BTreeMap<String, BTreeMap<(String, String), String>> {
    let modules = Modules::new(sources);
    let folders: BTreeSet<String> = sources
        .iter()
        .map(|s| s.file.rsplit_once('/').map_or("", |(d, _)| d).to_string())
        .flat_map(|d| {
            let parts: Vec<&str> = d.split('/').filter(|p| !p.is_empty()).collect();
            (0..=parts.len())
                .map(|n| parts[..n].join("/"))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut result: BTreeMap<String, BTreeMap<(String, String), String>> = BTreeMap::new();
    for source in sources {
        for path in paths(source) {
            let Some(target) = modules.resolve(&path) else {
                continue;
            };
            for folder in &folders {
                let (Some(from), Some(to)) = (room(&source.file, folder), room(&target, folder))
                else {
                    continue;
                };
                if from != to {
                    result
                        .entry(folder.clone())
                        .or_default()
                        .entry((from, to))
                        .or_insert(format!("{} uses {}", source.file, path.join("::")));
                }
            }
        }
    }
    result
}

#[test]
fn no_folder_or_file_imports_a_room_that_imports_it_back() {
    let sources = sources();
    let mut circles = vec![];
    for (folder, edges) in edges_by_folder(&sources) {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in edges.keys() {
            graph.entry(from.clone()).or_default().insert(to.clone());
        }
        if let Some(circle) = find_circle(&graph) {
            let why: Vec<String> = circle
                .windows(2)
                .map(|w| edges[&(w[0].clone(), w[1].clone())].clone())
                .collect();
            circles.push(format!(
                "in src/{folder}: {}\n    {}",
                circle.join(" -> "),
                why.join("\n    ")
            ));
        }
    }
    assert!(
        circles.is_empty(),
        "rooms that import each other (move the shared part down a floor, or the user up):\n{}",
        circles.join("\n")
    );
}

/// The scan itself finds the imports it must: a circle written into sources is reported, and
/// the known floors of the prelude are seen.
#[test]
fn the_scan_sees_imports_and_reports_a_circle() {
    let make = |file: &str, code: &str| {
        let mut module: Vec<String> = file
            .trim_end_matches(".rs")
            .split('/')
            .map(String::from)
            .collect();
        if module.last().is_some_and(|m| m == "mod") {
            module.pop();
        }
        Source {
            file: file.into(),
            module,
            code: strip_comments(code),
        }
    };
    let fake = vec![
        make("lib.rs", "pub mod a; pub mod b;"),
        make("a/mod.rs", "mod x; pub use x::Thing;"),
        make("a/x.rs", "use crate::b::{other::Helper, self};\npub struct Thing;"),
        make("b/mod.rs", "pub mod other;"),
        make("b/other.rs", "// use crate::a::Thing; in a comment is no import\npub struct Helper;\nfn f() { let _ = super::super::a::Thing; }"),
    ];
    let edges = edges_by_folder(&fake);
    let top = &edges[""];
    assert!(top.contains_key(&("a".into(), "b".into())), "{top:?}");
    assert!(top.contains_key(&("b".into(), "a".into())), "{top:?}");
    let real = edges_by_folder(&sources());
    let top = &real[""];
    for (from, to) in [("train", "nn"), ("charts", "models"), ("data", "vision")] {
        assert!(
            top.contains_key(&(from.into(), to.into())),
            "{from} -> {to} not seen: {:?}",
            top.keys().collect::<Vec<_>>()
        );
    }
    assert!(real["data"].contains_key(&("transform".into(), "stats".into())));
}
