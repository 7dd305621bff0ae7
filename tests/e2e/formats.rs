//! Files of the first release still work: a format-1 checkpoint with its first-release
//! `config.toml` generates, evaluates and resumes exactly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gan() -> Command {
    gan_tests::gan(env!("CARGO_BIN_EXE_gan"))
}

fn run(cmd: &mut Command) -> Output {
    gan_tests::succeed(cmd)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn first_release_checkpoint_generates_and_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run_dir = tmp.path().join("format1-run");
    copy_dir(&fixtures().join("format1-run"), &run_dir);

    let out = run(gan()
        .args(["generate", "--n", "4", "--device", "cpu", "--checkpoint"])
        .arg(&run_dir)
        .arg("--images")
        .arg(tmp.path().join("four.idx")));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("step 2") && stdout.contains("no EMA"),
        "{stdout}"
    );
    assert_eq!(
        gan_data::read_images(&tmp.path().join("four.idx"))
            .unwrap()
            .count,
        4
    );

    run(gan()
        .args(["train", "--steps", "4", "--quiet", "--resume"])
        .arg(&run_dir)
        .arg("--data-dir")
        .arg(&data));
    let expected =
        std::fs::read_to_string(fixtures().join("format1-straight-4-steps.csv")).unwrap();
    assert_continues_as_recorded(
        &gan_tests::metric_columns(&run_dir),
        &expected.lines().collect::<Vec<_>>(),
    );
    // The resumed run writes today's formats.
    let manifest = std::fs::read_to_string(run_dir.join("checkpoints/step-00000004.toml")).unwrap();
    assert!(manifest.contains("format = 2") && manifest.contains("[parts.generator]"));
    let config = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    assert!(config.contains("[model]") && config.contains("family = \"gan\""));
}

/// The resumed metrics against the first release's straight run. The fixture was recorded on
/// one CPU; MKL rounds differently with other instruction sets (AVX2 against AVX-512), so the
/// resumed steps must agree to rounding, and the steps before the resume exactly. That a
/// resume continues bit for bit on one machine is what the straight-against-interrupted
/// tests check.
fn assert_continues_as_recorded(got: &[String], recorded: &[&str]) {
    assert_eq!(got.len(), recorded.len(), "{got:?}");
    assert_eq!(
        got[..3],
        recorded[..3],
        "the rows before the resume are the fixture's"
    );
    for (got, recorded) in got[3..].iter().zip(&recorded[3..]) {
        let values =
            |row: &str| -> Vec<f64> { row.split(',').map(|v| v.parse().unwrap()).collect() };
        let (a, b) = (values(got), values(recorded));
        assert_eq!(a[0], b[0], "step");
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (x - y).abs() <= 1e-5 * y.abs().max(1.0),
                "resuming a format-1 checkpoint must continue as the first release did: \
                 {got} against {recorded}"
            );
        }
    }
}
