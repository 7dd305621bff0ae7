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
