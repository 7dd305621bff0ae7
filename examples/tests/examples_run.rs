//! The examples, run as a user would (`cargo test` has just built them) on a tiny data set:
//! train two steps, draw the grid, score the samples.

use std::path::{Path, PathBuf};
use std::process::Command;

/// An example built by this `cargo test`: beside the test binary's `deps/`, in `examples/`.
fn example(name: &str) -> Command {
    let deps = std::env::current_exe().unwrap();
    let target = deps.parent().unwrap().parent().unwrap();
    let path: PathBuf = target.join("examples").join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    let mut cmd = Command::new(path);
    cmd.env_remove("LD_LIBRARY_PATH");
    cmd
}

fn run(cmd: &mut Command, data: &Path) -> String {
    let out = cmd.env("GAN_DATA_DIR", data).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_examples_train_draw_and_score() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run_dir = tmp.path().join("run");
    let said = run(
        example("train_preset")
            .args(["tutorial"])
            .arg(&run_dir)
            .arg("2"),
        &data,
    );
    assert!(said.contains("2 steps"), "{said}");
    assert!(run_dir.join("checkpoints/step-00000002.toml").is_file());
    // Again on the same directory: the run resumes to its new step count.
    let said = run(
        example("train_preset")
            .args(["tutorial"])
            .arg(&run_dir)
            .arg("3"),
        &data,
    );
    assert!(said.contains("3 steps"), "{said}");
    let history = std::fs::read_to_string(run_dir.join("history.jsonl")).unwrap();
    assert!(history.contains("resumed"), "{history}");

    let grid = tmp.path().join("grid.png");
    run(example("sample_grid").arg(&run_dir).arg(&grid), &data);
    let png = std::fs::read(&grid).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");

    let said = run(example("score_samples").arg(&run_dir).arg("200"), &data);
    assert!(said.contains("FID"), "{said}");
}
