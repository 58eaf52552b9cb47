//! The source tree's rules, checked on `src/` and `examples/` themselves:
//! no module below the command layer imports `commands` or `cli`, the
//! top-level modules import each other without a circle, and neither do the
//! files of any one folder (see [`no_folder_has_an_import_circle`] for what
//! counts as an import). There is no cap on a file's length: a file is split
//! where its parts stand on their own, and the circle check keeps a split
//! from leaving two halves that need each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`camera` for
/// `src/camera/probe.rs`, `ffmpeg` for `src/ffmpeg.rs`).
fn top(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_str()
        .unwrap();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules a file names as `crate::X` outside comments.
fn imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn files() -> Vec<(PathBuf, String)> {
    let mut paths = Vec::new();
    rust_files(&src(), &mut paths);
    paths.sort();
    assert!(paths.len() > 20, "found only {} files in src/", paths.len());
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

#[test]
fn nothing_below_the_commands_imports_them_or_the_command_line() {
    let mut upward = Vec::new();
    for (path, text) in files() {
        let module = top(&path);
        let allowed: &[&str] = match module.as_str() {
            "main" | "lib" | "commands" => &["commands", "cli"],
            "cli" => &["cli"],
            _ => &[],
        };
        for name in imports(&text) {
            if (name == "commands" || name == "cli") && !allowed.contains(&name.as_str()) {
                upward.push(format!("{} imports crate::{name}", path.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a higher layer:\n{}",
        upward.join("\n")
    );
}

#[test]
fn top_level_modules_import_each_other_without_a_circle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in files() {
        let module = top(&path);
        let deps = graph.entry(module.clone()).or_default();
        for name in imports(&text) {
            if name != module {
                deps.insert(name);
            }
        }
    }
    assert!(graph.contains_key("commands") && graph.contains_key("state"));
    // Depth-first search; a module met again while on the stack closes a circle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
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
        for dep in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(dep, graph, stack, done) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(circle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("import circle: {}\ngraph: {graph:#?}", circle.join(" -> "));
        }
    }
}

#[test]
fn the_checks_see_imports_and_skip_comments() {
    let text = "use crate::state::StateStore;\n//! see crate::commands\nlet x = crate::camera::capture::prepare(a, crate::error::usage);\n";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["camera", "error", "state"]);
}

// ---------------------------------------------------------------------------
// Circles between the files of one folder.
// ---------------------------------------------------------------------------

/// A module path inside one crate (`["state", "raw"]` for
/// `src/state/raw.rs`; empty for the crate root).
type ModPath = Vec<String>;

/// One `use` statement's leaf: the path as written (`super`, `crate`,
/// `self` or a name first; `*` last for a glob) and the name it binds.
#[derive(Debug)]
struct UseLeaf {
    public: bool,
    chain: Vec<String>,
    binds: String,
}

#[derive(Debug, Default)]
struct Module {
    file: PathBuf,
    /// Names of the items defined at the top of the file, and whether each
    /// is public (`pub`, `pub(crate)`, `pub(super)`): a child also sees its
    /// parent's private items, nobody else does.
    items: BTreeMap<String, bool>,
    uses: Vec<UseLeaf>,
    /// Paths written in the code outside `use` (`super::x::f()`).
    inline: Vec<Vec<String>>,
    /// Every identifier of the code outside `use` statements.
    idents: BTreeSet<String>,
}

/// A crate's modules: the root file and the folder its modules live in.
struct Tree {
    modules: BTreeMap<ModPath, Module>,
}

/// The code of a file without comment lines and without its inline
/// `#[cfg(test)] mod … { … }` blocks (a test module's `super::` is the file
/// itself, and tests may use anything).
fn code_of(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        if t == "#[cfg(test)]" && next.contains("mod ") && next.ends_with('{') {
            let mut depth = 0i32;
            i += 1;
            loop {
                for c in lines[i].chars() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                i += 1;
                if depth <= 0 || i >= lines.len() {
                    break;
                }
            }
            continue;
        }
        out.push(lines[i].to_string());
        i += 1;
    }
    out
}

#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    Path,
    Other(char),
}

fn tokens(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(Tok::Path);
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(Tok::Other(c));
            }
            i += 1;
        }
    }
    out
}

/// The leaves of a use tree (`a::{b, c::d as e, f::*}`), from its tokens.
fn use_leaves(toks: &[Tok], prefix: &[String], public: bool, out: &mut Vec<UseLeaf>) {
    let mut chain = prefix.to_vec();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Ident(name) if name == "as" => {
                if let Some(Tok::Ident(alias)) = toks.get(i + 1) {
                    out.push(UseLeaf {
                        public,
                        chain: chain.clone(),
                        binds: alias.clone(),
                    });
                }
                return;
            }
            Tok::Ident(name) => chain.push(name.clone()),
            Tok::Path => {}
            Tok::Other('*') => chain.push("*".into()),
            Tok::Other('{') => {
                // Split the group at its top-level commas.
                let mut depth = 0;
                let mut start = i + 1;
                for j in i + 1..toks.len() {
                    match toks[j] {
                        Tok::Other('{') => depth += 1,
                        Tok::Other('}') if depth > 0 => depth -= 1,
                        Tok::Other(',') | Tok::Other('}') if depth == 0 => {
                            let part = &toks[start..j];
                            if !part.is_empty() {
                                use_leaves(part, &chain, public, out);
                            }
                            start = j + 1;
                            if toks[j] == Tok::Other('}') {
                                return;
                            }
                        }
                        _ => {}
                    }
                }
                return;
            }
            Tok::Other(_) => {}
        }
        i += 1;
    }
    if chain.last().is_some_and(|l| l == "self") {
        chain.pop();
    }
    if let Some(last) = chain.last().cloned() {
        out.push(UseLeaf {
            public,
            chain,
            binds: last,
        });
    }
}

/// Reads one file: its items, `use` statements, inline paths, identifiers.
fn read_module(file: &Path) -> Module {
    let text = std::fs::read_to_string(file).unwrap();
    let mut m = Module {
        file: file.to_path_buf(),
        ..Module::default()
    };
    let mut rest = String::new();
    let mut stmt: Option<(bool, String)> = None;
    for line in code_of(&text) {
        let t = line.trim_start();
        if let Some(s) = stmt.as_mut() {
            s.1.push_str(&line);
        } else {
            let public = t.starts_with("pub ") || t.starts_with("pub(");
            let after_vis = if t.starts_with("pub(") {
                t.find(')').map_or("", |at| t[at + 1..].trim_start())
            } else {
                t.strip_prefix("pub ").unwrap_or(t)
            };
            if let Some(body) = after_vis.strip_prefix("use ") {
                stmt = Some((public, body.to_string()));
            } else {
                if !line.starts_with(' ') && !line.starts_with('}') {
                    // A top-level item: `[pub(..)] [unsafe|async|const] fn|struct|… NAME`.
                    let words: Vec<&str> = after_vis
                        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '!'))
                        .filter(|w| !w.is_empty())
                        .collect();
                    let kinds = [
                        "fn", "struct", "enum", "const", "static", "type", "trait", "union", "mod",
                    ];
                    let mut w = words.iter().peekable();
                    while let Some(word) = w.next() {
                        let const_fn = *word == "const" && w.peek().is_some_and(|n| **n == "fn");
                        if const_fn || ["unsafe", "async", "extern", "mut"].contains(word) {
                            continue;
                        }
                        if kinds.contains(word) {
                            if let Some(name) = w.next() {
                                m.items.insert(name.to_string(), public);
                            }
                        } else if *word == "macro_rules!" {
                            if let Some(name) = w.next() {
                                m.items.insert(name.to_string(), true);
                            }
                        }
                        break;
                    }
                }
                rest.push_str(&line);
                rest.push('\n');
                continue;
            }
        }
        let done = stmt.as_ref().is_some_and(|s| s.1.contains(';'));
        if done {
            let (public, body) = stmt.take().unwrap();
            let body = &body[..body.find(';').unwrap()];
            use_leaves(&tokens(body), &[], public, &mut m.uses);
        }
    }
    let toks = tokens(&rest);
    for (i, t) in toks.iter().enumerate() {
        let Tok::Ident(name) = t else { continue };
        m.idents.insert(name.clone());
        let after_path = i > 0 && matches!(toks[i - 1], Tok::Path | Tok::Other('.'));
        if after_path || toks.get(i + 1) != Some(&Tok::Path) {
            continue;
        }
        let mut chain = vec![name.clone()];
        let mut j = i + 1;
        while toks.get(j) == Some(&Tok::Path) {
            match toks.get(j + 1) {
                Some(Tok::Ident(n)) => chain.push(n.clone()),
                _ => break,
            }
            j += 2;
        }
        m.inline.push(chain);
    }
    m
}

impl Tree {
    /// The crate whose root file is `root` and whose modules are the files
    /// under `dir` (none for a crate of one file).
    fn new(root: &Path, dir: &Path) -> Tree {
        let mut modules = BTreeMap::new();
        modules.insert(Vec::new(), read_module(root));
        let mut files = Vec::new();
        if dir.is_dir() {
            rust_files(dir, &mut files);
        }
        for file in files {
            if file == root || file.file_name().is_some_and(|n| n == "main.rs") {
                continue;
            }
            let rel = file.strip_prefix(dir).unwrap();
            let mut path: ModPath = rel
                .components()
                .map(|c| {
                    c.as_os_str()
                        .to_str()
                        .unwrap()
                        .trim_end_matches(".rs")
                        .to_string()
                })
                .collect();
            if path.last().is_some_and(|l| l == "mod") {
                path.pop();
            }
            modules.insert(path, read_module(&file));
        }
        Tree { modules }
    }

    fn has_children(&self, m: &[String]) -> bool {
        self.modules
            .keys()
            .any(|k| k.len() == m.len() + 1 && k.starts_with(m))
    }

    /// A path as written in module `m`, made absolute (None: another crate,
    /// or a local name such as an enum's variants).
    fn absolute(&self, m: &[String], chain: &[String]) -> Option<ModPath> {
        let first = chain.first()?;
        let (mut base, rest): (ModPath, &[String]) = match first.as_str() {
            "crate" => (Vec::new(), &chain[1..]),
            "self" => (m.to_vec(), &chain[1..]),
            "super" => {
                let mut base = m.to_vec();
                let mut k = 0;
                while chain.get(k).is_some_and(|s| s == "super") {
                    base.pop()?;
                    k += 1;
                }
                (base, &chain[k..])
            }
            name => {
                let mut child = m.to_vec();
                child.push(name.to_string());
                if !self.modules.contains_key(&child) {
                    return None;
                }
                (m.to_vec(), chain)
            }
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// Whether module `m` gives the name `name` to module `to`: defines it,
    /// or imports or re-exports it. A module's private items and imports
    /// are seen only from inside it (its descendants).
    fn gives(&self, m: &[String], to: &[String], name: &str, depth: usize) -> bool {
        let Some(module) = self.modules.get(m) else {
            return false;
        };
        if depth > 8 {
            return false;
        }
        let inside = to.starts_with(m);
        if module
            .items
            .get(name)
            .is_some_and(|&public| public || inside)
        {
            return true;
        }
        module.uses.iter().any(|u| {
            (u.public || inside)
                && if u.binds == "*" {
                    self.absolute(m, &u.chain[..u.chain.len() - 1])
                        .is_some_and(|b| {
                            self.modules.contains_key(&b) && self.gives(&b, m, name, depth + 1)
                        })
                } else {
                    u.binds == name
                }
        })
    }

    /// The module that defines the item `name` reached through module `m`
    /// (through its imports and re-exports): `m` itself when it defines it,
    /// None when the name comes from another crate.
    fn defining(&self, m: &[String], name: &str, depth: usize) -> Option<ModPath> {
        let module = &self.modules[m];
        if module.items.contains_key(name) || depth > 8 {
            return Some(m.to_vec());
        }
        for u in &module.uses {
            if u.binds == name {
                let abs = self.absolute(m, &u.chain)?;
                return self.target(&abs, depth + 1);
            }
        }
        for u in &module.uses {
            if u.binds == "*" {
                if let Some(base) = self.absolute(m, &u.chain[..u.chain.len() - 1]) {
                    if self.modules.contains_key(&base) && self.gives(&base, m, name, depth + 1) {
                        return self.defining(&base, name, depth + 1);
                    }
                }
            }
        }
        Some(m.to_vec())
    }

    /// The module an absolute path lands in: the module it names, or the one
    /// that defines the item it names (None: an item of another crate).
    fn target(&self, abs: &[String], depth: usize) -> Option<ModPath> {
        let mut m: ModPath = Vec::new();
        for seg in abs {
            let mut child = m.clone();
            child.push(seg.clone());
            if self.modules.contains_key(&child) {
                m = child;
                continue;
            }
            if seg == "*" {
                return Some(m);
            }
            return self.defining(&m, seg, depth);
        }
        Some(m)
    }

    /// The modules that file `m` uses, each with the text that made it.
    fn uses_of(&self, m: &[String]) -> Vec<(ModPath, String)> {
        let module = &self.modules[m];
        let parent = self.has_children(m);
        let mut out = Vec::new();
        for u in &module.uses {
            let Some(abs) = self.absolute(m, &u.chain) else {
                continue;
            };
            let written = u.chain.join("::");
            // A parent's re-export of what lies below it is its face, not a
            // use: it counts only for the names the parent's own code uses.
            let facade = parent && u.public && abs.len() > m.len() && abs.starts_with(m);
            if u.binds == "*" {
                let Some(base) = self.target(&abs[..abs.len() - 1], 0) else {
                    continue;
                };
                if !self.modules.contains_key(&base) {
                    continue;
                }
                for name in &module.idents {
                    if self.gives(&base, m, name, 0) {
                        if let Some(t) = self.defining(&base, name, 0) {
                            out.push((t, format!("{written} ({name})")));
                        }
                    }
                }
            } else if !facade || module.idents.contains(&u.binds) {
                if let Some(t) = self.target(&abs, 0) {
                    out.push((t, written));
                }
            }
        }
        for chain in &module.inline {
            if let Some(t) = self.absolute(m, chain).and_then(|abs| self.target(&abs, 0)) {
                out.push((t, chain.join("::")));
            }
        }
        out
    }

    /// How a node of folder `folder` is shown: `mod.rs`/`lib.rs` for the
    /// folder's own module, `x.rs` for a file, `x/` for a subfolder.
    fn node_name(&self, folder: &[String], m: &[String]) -> String {
        if m.len() == folder.len() {
            let file = &self.modules[folder].file;
            return format!(
                "{} (the parent)",
                file.file_name().unwrap().to_str().unwrap()
            );
        }
        let child: ModPath = m[..=folder.len()].to_vec();
        if self.has_children(&child) {
            format!("{}/", child.last().unwrap())
        } else {
            format!("{}.rs", child.last().unwrap())
        }
    }

    /// Per folder (by its module path), the edges between its nodes, each
    /// with the reason (file and path written).
    fn folder_graphs(&self) -> BTreeMap<ModPath, BTreeMap<String, BTreeMap<String, String>>> {
        let mut graphs: BTreeMap<ModPath, BTreeMap<String, BTreeMap<String, String>>> =
            BTreeMap::new();
        for m in self.modules.keys() {
            for (t, why) in self.uses_of(m) {
                let common = m.iter().zip(&t).take_while(|(a, b)| a == b).count();
                if common == m.len() && common == t.len() {
                    continue;
                }
                let folder: ModPath = m[..common].to_vec();
                let from = self.node_name(&folder, m);
                let to = self.node_name(&folder, &t);
                if from == to {
                    continue;
                }
                let file = relative(&self.modules[m].file);
                graphs
                    .entry(folder)
                    .or_default()
                    .entry(from)
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| format!("{file}: {why}"));
            }
        }
        graphs
    }
}

/// A file's path from the top of the repository.
fn relative(file: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

/// Every circle of a graph, each once (by its set of nodes).
fn circles(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeMap<String, String>>,
        stack: &mut Vec<String>,
        found: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_string());
            let key: BTreeSet<&String> = circle.iter().collect();
            if !found
                .iter()
                .any(|c| c.iter().collect::<BTreeSet<_>>() == key)
            {
                found.push(circle);
            }
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.to_string());
        for dep in graph.get(node).into_iter().flat_map(|d| d.keys()) {
            visit(dep, graph, stack, found, done);
        }
        stack.pop();
        done.insert(node.to_string());
    }
    let mut found = Vec::new();
    for node in graph.keys() {
        visit(
            node,
            graph,
            &mut Vec::new(),
            &mut found,
            &mut BTreeSet::new(),
        );
    }
    found
}

/// The crates whose folders are checked: the library (`src/lib.rs`; the
/// binary's `src/main.rs` declares no module of its own) and each example
/// (`examples/NAME.rs`, its modules in `examples/NAME/`).
fn trees() -> Vec<Tree> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let main = std::fs::read_to_string(root.join("src/main.rs")).unwrap();
    assert!(
        !code_of(&main)
            .iter()
            .any(|l| l.trim_start().starts_with("mod ")),
        "src/main.rs declares a module: check it as a crate of its own here"
    );
    let mut trees = vec![Tree::new(&root.join("src/lib.rs"), &src())];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 2, "examples: {examples:?}");
    for file in examples {
        let dir = file.with_extension("");
        trees.push(Tree::new(&file, &dir));
    }
    trees
}

/// No two files of one folder use each other, directly or around a circle.
///
/// The nodes of a folder are its files, its subfolders (each one node: all
/// the files under it) and its parent module (`mod.rs`, or `lib.rs` or an
/// example's root file). A file uses another when it names it or one of its
/// items: in a `use` or in a path in the code, through `super::`, `self::`,
/// `crate::folder::` or (in a parent) a child's name. A name is followed to
/// the file that defines it, through the parent's re-exports and globs, so
/// `use super::State` in `state/raw.rs` uses `state/model.rs`, which
/// defines `State`, not `state/mod.rs`, which only re-exports it. A glob
/// (`use super::*`) uses each file defining a name the file's code names.
///
/// The parent and its children:
/// - declaring a child (`mod child;`) is not a use;
/// - a parent's re-export (`pub use child::Thing`, `pub use child::*`) is
///   its face to the rest of the crate, not a use, unless the parent's own
///   code names `Thing` too;
/// - a child that uses an item defined in the parent (`super::Thing` with
///   `Thing` in `mod.rs`) uses the parent, and a parent whose own code uses
///   a child (`child::f()`, a private `use child::x`) uses the child: both
///   at once is a circle, like any two siblings using each other. Shared
///   items belong in a file of their own (or in the parent, used by the
///   children and not using them).
///
/// Comment lines and inline `#[cfg(test)] mod … { … }` blocks are not read:
/// a test module's `super::` is its own file, and tests may reach anywhere.
/// The check reads text, not the compiler's name resolution: it can see a
/// use that is not one (an identifier of the same name as a glob-imported
/// item), never miss a `use` or a path.
#[test]
fn no_folder_has_an_import_circle() {
    let mut report = Vec::new();
    for tree in trees() {
        for (folder, graph) in tree.folder_graphs() {
            for circle in circles(&graph) {
                let dir = tree.modules[&folder].file.with_extension("");
                let dir = if dir.file_name().is_some_and(|n| n == "mod" || n == "lib") {
                    dir.parent().unwrap().to_path_buf()
                } else {
                    dir
                };
                let mut lines = vec![format!("{}/: {}", relative(&dir), circle.join(" -> "))];
                for pair in circle.windows(2) {
                    lines.push(format!(
                        "    {} -> {}: {}",
                        pair[0], pair[1], graph[&pair[0]][&pair[1]]
                    ));
                }
                report.push(lines.join("\n"));
            }
        }
    }
    assert!(
        report.is_empty(),
        "import circles between the files of a folder:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_folder_check_follows_names_to_the_file_that_defines_them() {
    let dir = crate::support::common::TempDir::new("layout");
    let root = dir.join("lib.rs");
    let folder = dir.join("lib");
    std::fs::create_dir_all(folder.join("shop")).unwrap();
    std::fs::write(&root, "pub mod shop;\n").unwrap();
    let files = [
        (
            "shop/mod.rs",
            "mod a;\nmod b;\nmod c;\nmod d;\npub use a::*;\npub use b::Basket;\npub struct Till;\nfn open() { d::go(); }\n",
        ),
        // a uses b's Basket through the parent's re-export, and the parent's
        // Till: a -> b, a -> parent; the parent only re-exports a.
        (
            "shop/a.rs",
            "use super::*;\npub struct Apple;\nfn f(_: Basket, _: Till) {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n    fn g() { crate::shop::c::Cherry; }\n}\n",
        ),
        // b uses a by crate path, written inline, and c by `super::c`.
        (
            "shop/b.rs",
            "// use super::c::Cherry; (a comment)\npub struct Basket;\nfn f() { let _ = crate::shop::Apple; }\n",
        ),
        ("shop/c.rs", "pub struct Cherry;\n"),
        // d uses the parent's Till while the parent calls d::go: a circle.
        ("shop/d.rs", "use super::Till;\npub fn go() {}\n"),
    ];
    for (name, text) in files {
        std::fs::write(folder.join(name), text).unwrap();
    }
    let tree = Tree::new(&root, &folder);
    let graphs = tree.folder_graphs();
    let shop = &graphs[&vec!["shop".to_string()]];
    let edges: BTreeSet<(String, String)> = shop
        .iter()
        .flat_map(|(from, to)| to.keys().map(move |t| (from.clone(), t.clone())))
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("a.rs", "b.rs"),
        ("a.rs", "mod.rs (the parent)"),
        ("b.rs", "a.rs"),
        ("d.rs", "mod.rs (the parent)"),
        ("mod.rs (the parent)", "d.rs"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(edges, want);
    let found: BTreeSet<BTreeSet<String>> = circles(shop)
        .into_iter()
        .map(|c| c.into_iter().collect())
        .collect();
    let want: BTreeSet<BTreeSet<String>> = [
        ["a.rs", "b.rs"].map(String::from).into_iter().collect(),
        ["d.rs", "mod.rs (the parent)"]
            .map(String::from)
            .into_iter()
            .collect(),
    ]
    .into_iter()
    .collect();
    assert_eq!(found, want);
}
