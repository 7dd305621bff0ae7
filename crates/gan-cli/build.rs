include!("../../build-support/libtorch_rpath.rs");

fn main() {
    let lib = link_libtorch();
    // What `gan info` reports, fixed at build time.
    let libtorch_version = libtorch_version(lib.as_deref());
    println!(
        "cargo:rustc-env=GAN_LIBTORCH_VERSION={}",
        libtorch_version.trim()
    );
    println!(
        "cargo:rustc-env=GAN_LIBTORCH_LIB={}",
        lib.as_ref()
            .map(|l| l.display().to_string())
            .unwrap_or_default()
    );
    println!("cargo:rustc-env=GAN_TCH_VERSION={}", locked_version("tch"));
    let with_cuda = lib
        .as_ref()
        .is_some_and(|l| l.join("libtorch_cuda.so").exists());
    println!("cargo:rustc-env=GAN_LIBTORCH_CUDA={with_cuda}");
    println!("cargo:rerun-if-changed=../../Cargo.lock");
}

/// The version of `package` in the workspace lock file.
fn locked_version(package: &str) -> String {
    let lock = std::fs::read_to_string("../../Cargo.lock").unwrap_or_default();
    let needle = format!("name = \"{package}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|at| lock[at + needle.len()..].split('"').next())
        .unwrap_or("unknown")
        .to_owned()
}
