//! Helpers for the end-to-end tests of the `gan` binary in `tests/e2e/`.
//!
//! The test files are registered as integration tests of `gan-cli` (see its `Cargo.toml`):
//! only tests of the package that owns a binary get `CARGO_BIN_EXE_gan`, the path of a `gan`
//! cargo has just built for them. They call [`gan`] with that path.

pub mod browser;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `gan` binary at `path`, with the variables that could hide a missing rpath or leak
/// the caller's settings removed. Training skips its closing evaluation (`GAN_FINAL_EVAL=0`)
/// unless a test passes `--final-eval N`: most tests check other things, and it would add
/// seconds to each of their runs.
pub fn gan(path: &str) -> Command {
    let mut cmd = Command::new(path);
    // `--matmul auto` measurements of test runs (tiny shapes, timed while other tests run)
    // go to a cache beside the binary, shared by the tests so runs and resumes agree, and
    // kept out of the user's own.
    let matmul_cache = Path::new(path).with_file_name("gan-tests-matmul-auto.tsv");
    cmd.env("GAN_MATMUL_CACHE", matmul_cache)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LIBTORCH")
        .env_remove("RUST_LOG")
        .env_remove("GAN_DATA_DIR")
        .env("GAN_FINAL_EVAL", "0");
    cmd
}

/// `gan train` on the tiny data set at `data` into `run`: batch 8, CPU, one thread, quiet,
/// then `args` (steps, intervals, other flags).
pub fn train_tiny(bin: &str, data: &Path, run: &Path, args: &[&str]) -> Output {
    succeed(
        gan(bin)
            .args([
                "train",
                "--batch-size",
                "8",
                "--device",
                "cpu",
                "--threads",
                "1",
            ])
            .arg("--quiet")
            .args(args)
            .arg("--data-dir")
            .arg(data)
            .arg("--out")
            .arg(run),
    )
}

/// Runs `cmd` and returns its output; fails the test with both streams unless it succeeded.
pub fn succeed(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("gan runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cmd`, which must fail with exit code 1 or 2 and one clean error message (see
/// [`assert_clean_error`]), and returns its standard error.
pub fn fail(cmd: &mut Command) -> String {
    let out = cmd.output().expect("gan runs");
    assert!(!out.status.success(), "{cmd:?} should have failed");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        matches!(out.status.code(), Some(1 | 2)),
        "{cmd:?} ended with {} instead of exit code 1 or 2:\n{stderr}",
        out.status
    );
    assert_clean_error(&stderr);
    stderr
}

/// The error in `stderr` (from its `error:` on) says each thing once, in words: no operating
/// system error twice, nothing in Rust's `Debug` form (`Os { code: 28, … }`, `{ `), no name of
/// a temporary file.
pub fn assert_clean_error(stderr: &str) {
    let Some(at) = stderr.find("error:") else {
        panic!("no `error:` in:\n{stderr}");
    };
    let error = &stderr[at..];
    let os_errors: Vec<&str> = error
        .match_indices("(os error ")
        .map(|(i, _)| &error[i..error[i..].find(')').map_or(error.len(), |j| i + j + 1)])
        .collect();
    let mut unique = os_errors.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        os_errors.len(),
        unique.len(),
        "an OS error said twice:\n{error}"
    );
    for pattern in ["Os {", "{ ", "Kind(", ".tmp-", " at path \"", "panicked"] {
        assert!(
            !error.contains(pattern),
            "{pattern:?} in the error:\n{error}"
        );
    }
}

/// Every file under `dir` with its contents, to compare a run directory before and after a
/// command.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.push((path, bytes));
            }
        }
    }
    files.sort();
    files
}

/// A temporary folder holding a tiny data set (64 images, [`write_tiny_mnist`]) in `data`,
/// for runs written under `root`; removed when dropped.
pub struct TinySetup {
    _tmp: tempfile::TempDir,
    pub data: PathBuf,
    pub root: PathBuf,
}

impl TinySetup {
    pub fn new() -> TinySetup {
        let tmp = tempfile::tempdir().unwrap();
        let data = write_tiny_mnist(&tmp.path().join("mnist"), 64);
        let root = tmp.path().to_owned();
        TinySetup {
            _tmp: tmp,
            data,
            root,
        }
    }
}

impl Default for TinySetup {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes a small MNIST-shaped data set (`count` training and test images of blobs, labels
/// cycling through the digits) into `dir`, gzipped like the real files.
pub fn write_tiny_mnist(dir: &Path, count: u32) -> PathBuf {
    use std::io::Write;
    std::fs::create_dir_all(dir).unwrap();
    let mut pixels = vec![0u8; count as usize * 784];
    for i in 0..count as usize {
        let (r0, c0) = (4 + (i % 3) * 6, 4 + (i % 4) * 5);
        for r in r0..r0 + 8 {
            for c in c0..c0 + 8 {
                pixels[i * 784 + r * 28 + c] = 255;
            }
        }
    }
    let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
    let files = [
        (
            "train-images-idx3-ubyte.gz",
            gan_data::idx::encode_idx(&[count, 28, 28], &pixels),
        ),
        (
            "train-labels-idx1-ubyte.gz",
            gan_data::idx::encode_idx(&[count], &labels),
        ),
        (
            "t10k-images-idx3-ubyte.gz",
            gan_data::idx::encode_idx(&[count, 28, 28], &pixels),
        ),
        (
            "t10k-labels-idx1-ubyte.gz",
            gan_data::idx::encode_idx(&[count], &labels),
        ),
    ];
    for (name, bytes) in files {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&bytes).unwrap();
        std::fs::write(dir.join(name), enc.finish().unwrap()).unwrap();
    }
    dir.to_owned()
}

/// The lines of a run's `metrics.csv` without the last column (elapsed seconds, which differs
/// between otherwise identical runs).
pub fn metric_columns(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_owned())
        .collect()
}

/// Resumes the run in `resumed` (stopped early) to `steps` with the `gan` at `path`, and
/// asserts it ends where the uninterrupted run in `straight` did: the same metrics and a
/// byte-identical checkpoint at `steps`.
pub fn assert_resume_matches(path: &str, data: &Path, straight: &Path, resumed: &Path, steps: u64) {
    succeed(
        gan(path)
            .args([
                "train",
                "--device",
                "cpu",
                "--threads",
                "1",
                "--quiet",
                "--steps",
            ])
            .arg(steps.to_string())
            .arg("--data-dir")
            .arg(data)
            .arg("--resume")
            .arg(resumed),
    );
    assert_eq!(metric_columns(straight), metric_columns(resumed));
    let name = format!("checkpoints/step-{steps:08}.safetensors");
    let tensors = |run: &Path| std::fs::read(run.join(&name)).unwrap();
    assert!(
        tensors(straight) == tensors(resumed),
        "{}: weights differ after resume",
        resumed.display()
    );
}
