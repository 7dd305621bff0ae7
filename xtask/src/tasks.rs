//! Composite tasks: setup followed by cargo.

use anyhow::{bail, Context, Result};
use std::process::Command;

use crate::data::{self, FetchDataArgs};
use crate::libtorch;
use crate::test_tools;

/// `cargo xtask train`: install, fetch, then `gan train` in release mode.
pub fn train(data_args: &FetchDataArgs, args: &[String]) -> Result<()> {
    libtorch::fetch(&libtorch::FetchArgs::default())?;
    let dir = data::fetch(data_args)?;
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "-p",
        "gan-cli",
        "--",
        "train",
        "--data-dir",
    ])
    .arg(&dir)
    .args(args);
    run(cmd)
}

/// `cargo xtask test`: install, fetch (tests that need MNIST skip loudly if that fails),
/// format, lint and API-doc checks, then the whole test suite.
pub fn test(data_args: &FetchDataArgs, no_lint: bool, args: &[String]) -> Result<()> {
    let torch_dir = libtorch::fetch(&libtorch::FetchArgs::default())?;
    if let Some(python) = test_tools::ensure_tensorboard(&torch_dir)? {
        std::env::set_var(test_tools::TEST_PYTHON_ENV, python);
    }
    // `--matmul auto` measurements taken while tests run in parallel would be slow and
    // wrong for real runs: tests keep them in a cache of their own.
    let matmul_cache = std::env::current_dir()?
        .join("target")
        .join("gan-tests-matmul-auto.tsv");
    std::env::set_var("GAN_MATMUL_CACHE", matmul_cache);
    match data::fetch(data_args) {
        // Real-data tests read the installed copy through the mirror variable.
        Ok(dir) => std::env::set_var(gan_data::DATA_MIRROR_ENV, dir),
        Err(err) => {
            eprintln!("xtask: warning: MNIST unavailable, real-data tests will skip: {err:#}")
        }
    }
    if !no_lint {
        let mut fmt = cargo();
        fmt.args(["fmt", "--all", "--check"]);
        run(fmt).context("formatting differs: run `cargo fmt --all`")?;
        let mut clippy = cargo();
        clippy.args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]);
        run(clippy)?;
        let mut doc = cargo();
        doc.args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings");
        run(doc).context("the API docs have warnings (broken links, bad HTML)")?;
    }
    // xtask is tested on its own: built with the rest of the workspace, cargo would unify
    // gan-data's features and link libtorch into it, which xtask must never need.
    let mut test = cargo();
    test.args(["test", "--workspace", "--exclude", "xtask"])
        .args(args);
    run(test)?;
    let mut xtask = cargo();
    xtask.args(["test", "-p", "xtask"]).args(args);
    run(xtask)
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn run(mut cmd: Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let started = std::time::Instant::now();
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    eprintln!("xtask: finished in {:.1?}", started.elapsed());
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}
