include!("../../build-support/libtorch_rpath.rs");

fn main() {
    let lib = link_libtorch();
    // Part of the key under which `--matmul auto` caches what it measured.
    println!(
        "cargo:rustc-env=GAN_LIBTORCH_VERSION={}",
        libtorch_version(lib.as_deref())
    );
    println!("cargo::rustc-check-cfg=cfg(gan_onednn_shim)");
    if let Some(lib) = lib {
        compile_onednn_shim(&lib);
    }
}

/// Compiles `csrc/onednn_linear.cpp` against libtorch's headers (see that file), and tells the
/// crate it is there. Without a libtorch (documentation builds) the crate does without it.
fn compile_onednn_shim(lib: &std::path::Path) {
    const SOURCE: &str = "csrc/onednn_linear.cpp";
    println!("cargo:rerun-if-changed={SOURCE}");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let Some(include) = lib.parent().map(|root| root.join("include")) else {
        return;
    };
    if !include.join("ATen").exists() {
        return;
    }
    // torch-sys's default for a libtorch outside Python, and what PyTorch's wheels use.
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .file(SOURCE)
        .compile("gan_onednn_shim");
    println!("cargo:rustc-cfg=gan_onednn_shim");
}
