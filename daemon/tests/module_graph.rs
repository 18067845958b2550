//! The daemon's top-level modules form a layered graph: no module reaches, directly or through
//! others, back into a module that depends on it. A cycle is how one concept ends up defined in the
//! wrong place (a low module importing a high one to borrow a type), so this test finds every
//! `crate::<module>` and `super::…::<module>` path in daemon/src and fails on the first cycle,
//! naming the modules around it and a line that makes each edge.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

/// One use of another top-level module: where it is written.
#[derive(Debug, Clone)]
struct Site {
    file: PathBuf,
    line: usize,
}

/// Edges between top-level modules (`from -> to -> first site`).
type Graph = BTreeMap<String, BTreeMap<String, Site>>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())).path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file below src/ (`aggregator/server/routes.rs` -> [aggregator, server, routes];
/// `mod.rs` names its folder). `lib.rs` and `main.rs` are the crate roots: empty.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.trim_end_matches(".rs");
    if !(stem == "mod" || (parts.is_empty() && (stem == "lib" || stem == "main"))) {
        parts.push(stem.to_owned());
    }
    parts
}

/// Collects the top-level modules a token stream names, for a file whose module is `depth` deep.
struct Scanner<'a> {
    file: &'a Path,
    found: Vec<(String, usize)>,
}

impl Scanner<'_> {
    fn scan(&mut self, stream: TokenStream, depth: usize) {
        let tokens: Vec<TokenTree> = stream.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                // `mod name { … }`: paths inside are one module deeper.
                TokenTree::Ident(ident) if ident == "mod" => {
                    if let (Some(TokenTree::Ident(_)), Some(TokenTree::Group(body))) =
                        (tokens.get(i + 1), tokens.get(i + 2))
                    {
                        if body.delimiter() == Delimiter::Brace {
                            self.scan(body.stream(), depth + 1);
                            i += 3;
                            continue;
                        }
                    }
                }
                TokenTree::Ident(ident) if ident == "crate" => {
                    // `crate::x` and `$crate::x`, but not the `crate` of `pub(crate)`.
                    self.path_after(&tokens, i + 1);
                }
                TokenTree::Ident(ident) if ident == "super" && !follows_path_sep(&tokens, i) => {
                    let mut supers = 1;
                    let mut j = i + 1;
                    while is_path_sep(&tokens, j)
                        && matches!(tokens.get(j + 2), Some(TokenTree::Ident(next)) if next == "super")
                    {
                        supers += 1;
                        j += 3;
                    }
                    assert!(supers <= depth, "{}: {supers} `super`s in a module {depth} deep", self.file.display());
                    if supers == depth {
                        self.path_after(&tokens, j);
                    }
                }
                TokenTree::Group(group) => self.scan(group.stream(), depth),
                _ => {}
            }
            i += 1;
        }
    }

    /// After a path that names the crate root (`crate`, `super::super`), at `tokens[at]`: `::name`
    /// or `::{a, b::c}`.
    fn path_after(&mut self, tokens: &[TokenTree], at: usize) {
        if !is_path_sep(tokens, at) {
            return;
        }
        match tokens.get(at + 2) {
            Some(TokenTree::Ident(name)) => {
                self.found.push((name.to_string(), name.span().start().line));
            }
            Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => {
                // Each comma-separated item starts with a top-level module name (or `self`).
                let mut at_item_start = true;
                for token in group.stream() {
                    match &token {
                        TokenTree::Ident(name) if at_item_start => {
                            self.found.push((name.to_string(), name.span().start().line));
                            at_item_start = false;
                        }
                        TokenTree::Punct(punct) if punct.as_char() == ',' => at_item_start = true,
                        _ => at_item_start = false,
                    }
                }
            }
            _ => {}
        }
    }
}

/// `tokens[at..at+2]` is `::`.
fn is_path_sep(tokens: &[TokenTree], at: usize) -> bool {
    matches!(
        (tokens.get(at), tokens.get(at + 1)),
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
            if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':'
    )
}

/// `tokens[at]` follows a `::` (the second `super` of `super::super`, or `x::super`).
fn follows_path_sep(tokens: &[TokenTree], at: usize) -> bool {
    at >= 2 && is_path_sep(tokens, at - 2)
}

fn module_graph() -> (BTreeSet<String>, Graph) {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules = BTreeSet::new();
    let mut graph = Graph::new();
    let mut uses = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap_or(file).to_path_buf();
        let path = module_path(&relative);
        let Some(top) = path.first().cloned() else {
            continue; // lib.rs and main.rs only declare and call the modules.
        };
        modules.insert(top.clone());
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let stream =
            TokenStream::from_str(&text).unwrap_or_else(|e| panic!("{} does not tokenize: {e}", file.display()));
        let mut scanner = Scanner { file: &relative, found: Vec::new() };
        scanner.scan(stream, path.len());
        let found = scanner.found;
        uses.push((top, relative, found));
    }
    for (from, file, found) in uses {
        for (to, line) in found {
            if to == from || to == "self" || !modules.contains(&to) {
                continue; // within the module, or a crate-root item
            }
            graph.entry(from.clone()).or_default().entry(to).or_insert(Site { file: file.clone(), line });
        }
    }
    (modules, graph)
}

/// A cycle as the list of modules along it (first == last), if any.
fn find_cycle(modules: &BTreeSet<String>, graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_owned(), Mark::Open);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flat_map(|edges| edges.keys()) {
            match marks.get(next.as_str()) {
                Some(Mark::Open) => {
                    let start = stack.iter().position(|m| m == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(Mark::Done) => {}
                None => {
                    if let Some(cycle) = visit(next, graph, marks, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for module in modules {
        if !marks.contains_key(module) {
            if let Some(cycle) = visit(module, graph, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

fn describe(graph: &Graph) -> String {
    graph
        .iter()
        .map(|(from, edges)| {
            let to: Vec<&str> = edges.keys().map(String::as_str).collect();
            format!("{from} -> {}", to.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn top_level_modules_have_no_cycle() {
    let (modules, graph) = module_graph();
    println!("{}", describe(&graph));
    if let Some(cycle) = find_cycle(&modules, &graph) {
        let edges: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                let site = &graph[&pair[0]][&pair[1]];
                format!("  {} -> {} ({}:{})", pair[0], pair[1], site.file.display(), site.line)
            })
            .collect();
        panic!("module cycle {}:\n{}\nwhole graph:\n{}", cycle.join(" -> "), edges.join("\n"), describe(&graph));
    }
}

/// The scanner sees every way this crate names a module (so the test above can fail).
#[test]
fn scanner_finds_crate_and_super_paths() {
    let text = r#"
        use crate::{alpha, beta::Thing};
        pub(crate) fn f() { crate::gamma::call(); }
        mod inner { use super::super::delta::X; }
        // crate::commented_out
        const S: &str = "crate::in_a_string";
    "#;
    let mut scanner = Scanner { file: Path::new("x/y.rs"), found: Vec::new() };
    scanner.scan(TokenStream::from_str(text).expect("tokens"), 1);
    let names: Vec<&str> = scanner.found.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta", "gamma", "delta"]);

    let mut graph = Graph::new();
    let site = Site { file: PathBuf::from("a.rs"), line: 1 };
    graph.entry("a".into()).or_default().insert("b".into(), site.clone());
    graph.entry("b".into()).or_default().insert("a".into(), site);
    let modules = ["a".to_owned(), "b".to_owned()].into();
    assert_eq!(find_cycle(&modules, &graph), Some(vec!["a".into(), "b".into(), "a".into()]));
}
