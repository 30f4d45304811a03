//! The module map (README "Module map") holds for every import in `src/`, and the data the code is
//! driven by fits the schema: the format specs load, the partitioned tables are the child-level
//! ones, the synthetic generator draws only codes of the schema's lists.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::root;

/// Imports the map does not allow yet, each with why: (file, imported module).
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// The map as the README's table draws it: module -> box, and box -> the boxes it may import
/// (None: everything).
struct Map {
    box_of: BTreeMap<String, String>,
    may: BTreeMap<String, Option<Vec<String>>>,
}

fn read_map() -> Map {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Module map\n")
        .nth(1)
        .expect("the README has a Module map section");
    let mut map = Map {
        box_of: BTreeMap::new(),
        may: BTreeMap::new(),
    };
    for line in section.lines().take_while(|l| !l.starts_with("## ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() != 5 || cells[1] == "box" || cells[1].starts_with('-') {
            continue;
        }
        let name = cells[1].to_string();
        for module in cells[2].split(',') {
            let module = module.trim().trim_matches('`').to_string();
            if let Some(other) = map.box_of.insert(module.clone(), name.clone()) {
                panic!("README module map: `{module}` is in both {other} and {name}");
            }
        }
        let may = (cells[3] != "everything")
            .then(|| cells[3].split(',').map(|b| b.trim().to_string()).collect());
        map.may.insert(name, may);
    }
    assert!(
        map.box_of.len() > 10,
        "README module map: its table was not found"
    );
    map
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules a line names through `crate::` (`crate::store::x`, `crate::{a, b}`).
fn crate_paths(line: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = vec![];
    for (i, _) in line.match_indices("crate::") {
        let before = line[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &line[i + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = group.split('}').next().unwrap_or("");
                out.extend(
                    group
                        .split(',')
                        .map(|g| ident(g.trim()))
                        .filter(|g| !g.is_empty()),
                );
            }
            None => out.push(ident(rest)),
        }
    }
    out
}

#[test]
fn every_import_in_src_follows_the_module_map_in_the_readme() {
    let map = read_map();
    let src = root().join("src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = vec![];
    let mut used = vec![false; EXCEPTIONS.len()];
    for f in &files {
        let rel = f
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let module = f
            .strip_prefix(&src)
            .unwrap()
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let Some(from) = map.box_of.get(&module) else {
            wrong.push(format!(
                "{rel}: module `{module}` is on no row of the README's module map"
            ));
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for target in crate_paths(line) {
                let Some(to) = map.box_of.get(&target) else {
                    wrong.push(format!(
                        "{rel}:{}: `crate::{target}` is on no row of the README's module map",
                        n + 1
                    ));
                    continue;
                };
                let allowed = to == from
                    || match &map.may[from] {
                        None => true,
                        Some(may) => may.contains(to),
                    };
                if allowed {
                    continue;
                }
                if let Some(i) = EXCEPTIONS
                    .iter()
                    .position(|(file, module, _)| *file == rel && *module == target)
                {
                    used[i] = true;
                    continue;
                }
                wrong.push(format!(
                    "{rel}:{}: {from} imports {to} (`crate::{target}`), which the README's module map does not allow: {}",
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    for (i, (file, module, why)) in EXCEPTIONS.iter().enumerate() {
        if !used[i] {
            wrong.push(format!(
                "the exception for {file} importing `{module}` ({why}) is no longer needed: remove it"
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn the_map_check_finds_paths_in_use_lines_groups_and_expressions() {
    assert_eq!(
        crate_paths("use crate::store::{Chunk, NewRows};"),
        ["store"]
    );
    assert_eq!(
        crate_paths("use crate::{schema, table::Issue};"),
        ["schema", "table"]
    );
    assert_eq!(
        crate_paths("    let p = crate::ingest::parse::epoch_days(d) + crate::dates::x;"),
        ["ingest", "dates"]
    );
    assert!(crate_paths("use safeguard::store;").is_empty());
    assert!(crate_paths("let notcrate::x = 1;").is_empty());
}

#[test]
fn the_format_specs_fit_the_canonical_tables() {
    // Each panics, naming the spec and the entry, when it does not fit.
    let cin = safeguard::ingest::specs::cin();
    let annex = safeguard::ingest::specs::annex_a();
    assert_eq!(cin.code("sex", " 2 "), "F");
    assert_eq!(cin.code("sex", "m"), "M");
    assert_eq!(cin.code("sex", "X"), "X");
    assert!(annex.fields(7).any(|f| f.field == "cat_initial"));
    assert_eq!(annex.list(8).map(|l| l.number), None);
}

#[test]
fn the_tables_split_by_la_are_the_child_level_ones() {
    let split: Vec<&str> = safeguard::store::partitioned().collect();
    assert_eq!(
        split,
        [
            "children",
            "contacts",
            "referrals",
            "early_help",
            "assessments",
            "strategy_discussions",
            "s47_enquiries",
            "cp_plans",
            "pre_proceedings"
        ]
    );
}
