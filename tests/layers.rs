//! No circles between layers (docs/architecture.md, DESIGN §1: "nothing below looks up").
//!
//! Reads every `src/**/*.rs` (std only, no parser crate), collects each path that starts
//! with `crate::`, `super::` or `self::` (in `use` items and in code, `{…}` groups
//! expanded; comments and literals skipped), and builds two graphs:
//! - top-level modules (`sip`, `auth`, `model`, `config`, …): an edge `a → b` when a file
//!   of `a` names something of `b`;
//! - the files inside one directory module (e.g. `media/relay.rs`, `media/session.rs`):
//!   an edge when one names a sibling, directly or through a `pub use` of the `mod.rs`.
//!
//! The test fails on any cycle in either graph and names the files and lines of each edge.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Directories whose files are not checked among themselves (every other directory is).
/// `b2bua/`'s call core is one type, `Call`, whose methods are spread over files by concern
/// (`fork.rs`, `dialog.rs`, `timers.rs`, `record.rs`, `media.rs` each `impl Call`), so those
/// files and `call.rs` name each other's types by design; the rule between top-level
/// modules holds for it all the same.
const SIBLINGS_UNCHECKED: &[&str] = &["b2bua"];

/// Edges between top-level modules that are allowed to close a circle for now, each with
/// the reason. Empty: every circle found is a failure.
const ALLOWED: &[(&str, &str, &str)] = &[];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok<'a> {
    Ident(&'a str),
    Path, // `::`
    Open,
    Close,
    Comma,
    Other,
}

/// Tokens of a Rust file with their line numbers: comments, strings and char literals
/// dropped, everything else reduced to what paths are made of.
fn tokens(src: &str) -> Vec<(Tok<'_>, usize)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if b[i] == b'\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            b'r' | b'b' if raw_string_start(b, i).is_some() => {
                let (hashes, start) = raw_string_start(b, i).unwrap_or((0, i + 1));
                i = start;
                loop {
                    if i >= b.len() {
                        break;
                    }
                    if b[i] == b'\n' {
                        line += 1;
                    }
                    if b[i] == b'"'
                        && b[i + 1..]
                            .iter()
                            .take(hashes)
                            .filter(|&&h| h == b'#')
                            .count()
                            == hashes
                    {
                        i += 1 + hashes;
                        break;
                    }
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    if i < b.len() && b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'\'' => {
                // a char literal ('x', '\n', '\u{1F600}') or a lifetime ('a)
                if b.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                } else if b.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else if let Some(len) = std::str::from_utf8(&b[i + 1..])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .map(char::len_utf8)
                    .filter(|&l| b.get(i + 1 + l) == Some(&b'\''))
                {
                    i += 2 + len;
                } else {
                    i += 1; // a lifetime: its name follows as an identifier
                }
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let s = i;
                while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                out.push((Tok::Ident(&src[s..i]), line));
            }
            b':' if b.get(i + 1) == Some(&b':') => {
                out.push((Tok::Path, line));
                i += 2;
            }
            b'{' => {
                out.push((Tok::Open, line));
                i += 1;
            }
            b'}' => {
                out.push((Tok::Close, line));
                i += 1;
            }
            b',' => {
                out.push((Tok::Comma, line));
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                out.push((Tok::Other, line));
                i += 1;
            }
        }
    }
    out
}

/// `r"…"`, `r#"…"#`, `br"…"`: the number of `#` and where the content starts.
fn raw_string_start(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (b[i - 1] == b'_' || b[i - 1].is_ascii_alphanumeric()) {
        return None;
    }
    let mut j = i;
    if b[j] == b'b' {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while b.get(j) == Some(&b'#') {
        hashes += 1;
        j += 1;
    }
    (b.get(j) == Some(&b'"')).then_some((hashes, j + 1))
}

/// Parses a path (or `use` tree) at `toks[i]`, which follows a `::`; pushes every full path
/// (prefix included) to `out` and returns the index after it.
fn tree(
    toks: &[(Tok, usize)],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<Vec<String>>,
) -> usize {
    match toks.get(i).map(|t| t.0) {
        Some(Tok::Ident(s)) => {
            let mut p = prefix.to_vec();
            p.push(s.to_string());
            i += 1;
            if toks.get(i).map(|t| t.0) == Some(Tok::Path) {
                tree(toks, i + 1, &p, out)
            } else {
                out.push(p);
                i
            }
        }
        Some(Tok::Open) => {
            i += 1;
            loop {
                match toks.get(i).map(|t| t.0) {
                    None => return i,
                    Some(Tok::Close) => return i + 1,
                    Some(Tok::Comma) => i += 1,
                    Some(Tok::Ident(_)) | Some(Tok::Open) => i = tree(toks, i, prefix, out),
                    Some(_) => i += 1, // `*`, `as x` handled by Ident above
                }
            }
        }
        _ => {
            out.push(prefix.to_vec()); // `crate::*`, `super::*`
            i
        }
    }
}

struct Reference {
    /// absolute module path the reference points into, without `crate`
    path: Vec<String>,
    line: usize,
}

/// Every `crate::`/`super::`/`self::` path of a file, resolved to absolute paths.
/// `module` is the file's module path (`["media", "relay"]`; a `mod.rs` is its directory).
fn references(src: &str, module: &[String]) -> Vec<Reference> {
    let toks = tokens(src);
    let mut refs = Vec::new();
    // inline modules (`mod tests { … }`): (name, brace depth at which it closes)
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let (t, line) = toks[i];
        match t {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            Tok::Ident("mod") => {
                if let (Some((Tok::Ident(name), _)), Some((Tok::Open, _))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    inline.push((name.to_string(), depth));
                }
            }
            Tok::Ident(first @ ("crate" | "super" | "self"))
                if toks.get(i + 1).map(|t| t.0) == Some(Tok::Path)
                    && (i == 0 || toks[i - 1].0 != Tok::Path) =>
            {
                let mut here: Vec<String> = module.to_vec();
                here.extend(inline.iter().map(|(n, _)| n.clone()));
                let mut found = Vec::new();
                let end = tree(&toks, i + 2, &[], &mut found);
                for rel in found {
                    let mut base: Vec<String> = match first {
                        "crate" => Vec::new(),
                        "self" => here.clone(),
                        _ => here[..here.len().saturating_sub(1)].to_vec(),
                    };
                    let mut rest = rel.as_slice();
                    while rest.first().map(String::as_str) == Some("super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                    base.extend(rest.iter().cloned());
                    refs.push(Reference { path: base, line });
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    refs
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read src")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src/media/relay.rs` → `["media", "relay"]`; `src/media/mod.rs` → `["media"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// Edge → where it was seen (`file:line`).
type Graph = BTreeMap<(String, String), Vec<String>>;

/// Strongly connected components of more than one node: the circles.
fn circles(graph: &Graph) -> Vec<BTreeSet<String>> {
    let nodes: BTreeSet<&String> = graph.keys().flat_map(|(a, b)| [a, b]).collect();
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for (a, b) in graph.keys() {
                if *a == n && seen.insert(b.clone()) {
                    stack.push(b.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut out: Vec<BTreeSet<String>> = Vec::new();
    for n in &nodes {
        let scc: BTreeSet<String> = nodes
            .iter()
            .filter(|m| reaches[*n].contains(**m) && reaches[*m].contains(*n))
            .map(|m| (*m).clone())
            .collect();
        if scc.len() > 1 && !out.contains(&scc) {
            out.push(scc);
        }
    }
    out
}

fn describe(graph: &Graph, scc: &BTreeSet<String>) -> String {
    let mut s = format!(
        "circle: {}\n",
        scc.iter().cloned().collect::<Vec<_>>().join(" ↔ ")
    );
    for ((a, b), at) in graph {
        if scc.contains(a) && scc.contains(b) {
            let mut at = at.clone();
            at.dedup();
            let shown: Vec<_> = at.iter().take(4).cloned().collect();
            let more = at.len().saturating_sub(shown.len());
            s += &format!(
                "    {a} → {b}: {}{}\n",
                shown.join(", "),
                if more > 0 {
                    format!(" (+{more})")
                } else {
                    String::new()
                }
            );
        }
    }
    s
}

#[test]
fn no_circles_between_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let tops: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_of(&src, f).first().cloned())
        .filter(|m| m != "lib" && m != "main")
        .collect();

    // what each directory's mod.rs re-exports: (dir, name) → child file
    let mut reexports: BTreeMap<(Vec<String>, String), String> = BTreeMap::new();
    let mut children: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let m = module_of(&src, f);
        if let Some((last, dir)) = m.split_last() {
            children
                .entry(dir.to_vec())
                .or_default()
                .insert(last.clone());
        }
    }
    for f in files.iter().filter(|f| f.ends_with("mod.rs")) {
        let dir = module_of(&src, f);
        let text = fs::read_to_string(f).expect("read");
        for line in text.lines().map(str::trim) {
            let Some(rest) = line
                .strip_prefix("pub use ")
                .or_else(|| line.strip_prefix("pub(crate) use "))
            else {
                continue;
            };
            let Some((child, names)) = rest.trim_end_matches(';').split_once("::") else {
                continue;
            };
            let names = names.trim_matches(|c| c == '{' || c == '}');
            for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let name = name.rsplit(" as ").next().unwrap_or(name).trim();
                reexports.insert((dir.clone(), name.to_string()), child.trim().to_string());
            }
        }
    }

    let mut top: Graph = BTreeMap::new();
    let mut siblings: Graph = BTreeMap::new();
    for f in &files {
        let module = module_of(&src, f);
        let Some(from) = module.first().filter(|m| tops.contains(*m)) else {
            continue;
        };
        let text = fs::read_to_string(f).expect("read");
        let shown = f.strip_prefix(&src).unwrap_or(f).display().to_string();
        let is_mod_rs = f.ends_with("mod.rs");
        for r in references(&text, &module) {
            let at = format!("src/{shown}:{}", r.line);
            if let Some(to) = r.path.first().filter(|t| tops.contains(*t) && *t != from) {
                top.entry((from.clone(), to.clone()))
                    .or_default()
                    .push(at.clone());
            }
            // a sibling file of the same directory module (not from its mod.rs)
            if is_mod_rs || module.len() < 2 {
                continue;
            }
            let dir = &module[..module.len() - 1];
            if SIBLINGS_UNCHECKED.contains(&dir.join("/").as_str()) || !r.path.starts_with(dir) {
                continue;
            }
            let Some(name) = r.path.get(dir.len()) else {
                continue;
            };
            let own = &module[dir.len()];
            let to = if children.get(dir).is_some_and(|c| c.contains(name)) {
                Some(name.clone())
            } else {
                reexports.get(&(dir.to_vec(), name.clone())).cloned()
            };
            if let Some(to) = to.filter(|t| t != own) {
                let key = (
                    format!("{}/{own}", dir.join("/")),
                    format!("{}/{to}", dir.join("/")),
                );
                siblings.entry(key).or_default().push(at);
            }
        }
    }
    for (a, b, _why) in ALLOWED {
        top.remove(&(a.to_string(), b.to_string()));
    }

    // The reader sees the crate at all (a broken tokenizer would pass on an empty graph).
    assert!(
        top.contains_key(&("registrar".into(), "auth".into())),
        "{top:?}"
    );
    assert!(
        siblings.contains_key(&("media/relay".into(), "media/forward".into())),
        "{siblings:?}"
    );

    let mut report = String::new();
    for scc in circles(&top) {
        report += &describe(&top, &scc);
    }
    for scc in circles(&siblings) {
        report += &describe(&siblings, &scc);
    }
    assert!(
        report.is_empty(),
        "modules import each other in a circle:\n{report}"
    );
}

#[test]
fn paths_in_comments_and_strings_are_not_references_and_groups_are() {
    let src = r#"
        // use crate::b2bua::X;
        /* crate::api::Y */
        const S: &str = "crate::store::Z";
        use crate::{model::{Snapshot, trust}, sip::tls::TlsSettings};
        mod tests { use super::super::relay::Relay; }
        fn f<'a>(c: char) -> bool { c == '"' && self::g() }
    "#;
    let module = vec!["media".to_string(), "session".to_string()];
    let got: Vec<String> = references(src, &module)
        .iter()
        .map(|r| r.path.join("::"))
        .collect();
    assert_eq!(
        got,
        [
            "model::Snapshot",
            "model::trust",
            "sip::tls::TlsSettings",
            "media::relay::Relay",
            "media::session::g"
        ]
    );
}
