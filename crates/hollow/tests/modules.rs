//! The crate's modules depend on each other without cycles: the pure
//! modules at the bottom, the drivers (`kubelet`, `proxy`, `fleet`) on
//! top. Read from the sources: `crate::<module>` paths outside comments
//! and test modules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The source without `//` comments and without the `#[cfg(test)]`
/// module at its end.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The modules a piece of code names as `crate::m` or `crate::{m, n::x}`.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group only.
            let mut depth = 1;
            let mut expect_name = true;
            let mut j = 0;
            while j < group.len() && depth > 0 {
                let c = group[j..].chars().next().unwrap();
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => expect_name = true,
                    c if c.is_whitespace() => {}
                    _ if depth == 1 && expect_name => {
                        let name = ident(&group[j..]);
                        if !name.is_empty() {
                            out.insert(name.to_string());
                        }
                        expect_name = false;
                    }
                    _ => {}
                }
                j += c.len_utf8();
            }
        } else {
            out.insert(ident(rest).to_string());
        }
    }
    out
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut cycle = path[at..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for d in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(d, graph, done, path) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        if let Some(c) = visit(m, graph, &mut done, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn reads_crate_paths() {
    let src = "use crate::a::X;\n// crate::commented\nuse crate::{b, c::{D, E}, f};\nfn g() { crate::h::i(); }\n#[cfg(test)]\nmod tests { use crate::t; }";
    let got = crate_refs(&code(src));
    let want: BTreeSet<String> = ["a", "b", "c", "f", "h"].map(String::from).into();
    assert_eq!(got, want);
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    assert_eq!(
        find_cycle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])),
        None
    );
    assert_eq!(
        find_cycle(&graph(&[("shared", "proxy"), ("proxy", "shared")])),
        Some(["proxy", "shared", "proxy"].map(String::from).to_vec())
    );
}

#[test]
fn hollow_modules_form_no_cycle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.extension().is_none_or(|e| e != "rs") || name == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut deps = crate_refs(&code(&text));
        deps.remove(&name);
        graph.insert(name, deps);
    }
    assert!(
        graph.len() > 20,
        "read {} modules from {dir:?}",
        graph.len()
    );
    let known: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| known.contains(d));
    }
    assert_eq!(find_cycle(&graph), None, "module graph: {graph:#?}");
    // Where the fleet's shared pieces live.
    assert!(!graph["proxy"].contains("kubelet"), "{:?}", graph["proxy"]);
    assert!(!graph["shared"].contains("proxy"), "{:?}", graph["shared"]);
}
