include!("../../build-support/libtorch_rpath.rs");

fn main() {
    let lib = link_libtorch();
    // Part of the key under which `--matmul auto` caches what it measured.
    println!(
        "cargo:rustc-env=GAN_LIBTORCH_VERSION={}",
        libtorch_version(lib.as_deref())
    );
}
