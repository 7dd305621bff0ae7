//! Helpers for the end-to-end tests of the `gan` binary in `tests/tests/`.

use std::path::PathBuf;
use std::process::Command;

/// The `gan` binary built beside these tests (`cargo test --workspace` builds it), with the
/// variables that could hide a missing rpath removed.
pub fn gan() -> Command {
    let mut cmd = Command::new(gan_path());
    cmd.env_remove("LD_LIBRARY_PATH")
        .env_remove("LIBTORCH")
        .env_remove("RUST_LOG");
    cmd
}

/// `target/<profile>/gan`, found from this test executable (`target/<profile>/deps/…`).
pub fn gan_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable lives in target/<profile>/deps");
    let path = profile_dir.join(format!("gan{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p gan-cli` (cargo test --workspace does)",
        path.display()
    );
    path
}
