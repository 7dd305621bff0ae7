//! `cargo xtask`: the project's automation, in plain Rust (matklad's cargo-xtask pattern).
//!
//! Keeps its own build small: no libtorch, so it is what installs libtorch.

mod bench;
mod data;
mod libtorch;
mod progress;
mod tasks;
mod test_tools;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "gan-rs project tasks", version)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install libtorch 2.11.0 (PyTorch's wheel from PyPI, in a per-user cache) and point
    /// cargo at it; does nothing when it is already there.
    FetchLibtorch(libtorch::FetchArgs),
    /// Fetch and verify the four MNIST files; files already present and verified are kept.
    FetchData(data::FetchDataArgs),
    /// Install libtorch, fetch MNIST, then train with `gan train` (release build).
    Train {
        #[command(flatten)]
        data: data::FetchDataArgs,
        /// Arguments for `gan train` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Benchmark training and generation against PyTorch eager and the GEMM ceiling; writes
    /// bench/results.md and bench/results.json.
    Bench(bench::BenchArgs),
    /// Install what is missing, then check formatting and lints and run the whole test suite.
    Test {
        #[command(flatten)]
        data: data::FetchDataArgs,
        /// Skip `cargo fmt --check` and `cargo clippy`.
        #[arg(long)]
        no_lint: bool,
        /// Arguments for `cargo test` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
}

fn main() {
    let cli = Cli::parse();
    let started = Instant::now();
    if let Err(err) = run(cli) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
    eprintln!("xtask: done in {:.1?}", started.elapsed());
}

fn run(cli: Cli) -> Result<()> {
    std::env::set_current_dir(project_root())?;
    match cli.task {
        Task::FetchLibtorch(args) => libtorch::fetch(&args).map(drop),
        Task::FetchData(args) => data::fetch(&args).map(drop),
        Task::Train { data, args } => tasks::train(&data, &args),
        Task::Bench(args) => bench::run(&args),
        Task::Test {
            data,
            no_lint,
            args,
        } => tasks::test(&data, no_lint, &args),
    }
}

/// The workspace root: xtask lives one level below it.
fn project_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
