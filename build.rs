//! Embeds `queries/` in the binary: every `*.sql` file and `catalogue.toml`, listed at build time
//! (a file added to `queries/` is picked up with no Rust edited; `src/measures/catalogue.rs`
//! includes the generated list).

use std::path::Path;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let queries = Path::new(&root).join("queries");
    // A directory: cargo rebuilds when any file in it changes, is added or removed.
    println!("cargo:rerun-if-changed=queries");
    let mut files: Vec<String> = std::fs::read_dir(&queries)
        .expect("queries/ is readable")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql") || n == "catalogue.toml")
        .collect();
    files.sort();
    let mut out = String::from(
        "/// The files of queries/ compiled in (build.rs): (file name, text).\n\
         pub const EMBEDDED: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        let path = queries.join(f);
        out.push_str(&format!(
            "    ({f:?}, include_str!({:?})),\n",
            path.to_string_lossy()
        ));
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("queries.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
