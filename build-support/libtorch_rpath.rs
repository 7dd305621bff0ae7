// Shared by the build scripts of every crate that links libtorch (through `include!`).
//
// torch-sys tells direct dependants where it found libtorch (`DEP_TCH_LIBTORCH_LIB`). Two
// things follow for this crate's binaries, tests and examples:
// - an rpath to that directory, so they run without `LD_LIBRARY_PATH`;
// - on Linux, `libtorch_cuda` kept as a dependency even though no symbol of it is referenced
//   directly: rustc links with `--as-needed`, which would drop it and leave `--device cuda`
//   reporting no GPU on a machine that has one.
//
// Returns the libtorch lib directory, when this crate links libtorch.
#[allow(dead_code)]
fn link_libtorch() -> Option<std::path::PathBuf> {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let lib = std::env::var_os("DEP_TCH_LIBTORCH_LIB")?;
    // Through the `.libtorch` link to the real directory, so binaries survive the checkout moving.
    let lib = std::fs::canonicalize(&lib).unwrap_or_else(|_| lib.into());
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "macos" {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
    if os == "linux" && lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
    Some(lib)
}

/// The version of the libtorch whose `lib/` directory is `lib` (its `build-version`, or the
/// wheel's `version.py`), or "unknown".
#[allow(dead_code)]
fn libtorch_version(lib: Option<&std::path::Path>) -> String {
    lib.and_then(|lib| lib.parent())
        .and_then(|dir| {
            std::fs::read_to_string(dir.join("build-version"))
                .ok()
                .or_else(|| {
                    let py = std::fs::read_to_string(dir.join("version.py")).ok()?;
                    let line = py.lines().find(|l| l.starts_with("__version__"))?;
                    Some(line.split(['\'', '"']).nth(1)?.to_owned())
                })
        })
        .map_or_else(|| "unknown".to_owned(), |v| v.trim().to_owned())
}
