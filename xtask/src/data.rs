//! `cargo xtask fetch-data`: MNIST through gan-data's fetcher, with progress bars.

use std::path::PathBuf;

use anyhow::{Context, Result};
use gan_data::{default_data_dir, FetchOutcome, Fetcher, Mirror, DATA_DIR_ENV, DATA_MIRROR_ENV};

use crate::progress::Bars;

#[derive(clap::Args, Clone, Debug)]
pub struct FetchDataArgs {
    /// Directory to install MNIST into [default: $GAN_DATA_DIR, else ~/.cache/gan-rs/mnist].
    #[arg(long, env = DATA_DIR_ENV)]
    pub dir: Option<PathBuf>,
    /// Fetch from this mirror only (an http(s) URL or a local directory) instead of the
    /// public mirrors: for offline machines and shared read-only copies.
    #[arg(long, env = DATA_MIRROR_ENV)]
    pub mirror: Option<String>,
}

impl FetchDataArgs {
    pub fn dir(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(default_data_dir)
    }
}

/// Fetches what is missing; returns the data directory.
pub fn fetch(args: &FetchDataArgs) -> Result<PathBuf> {
    let dir = args.dir();
    let mirrors = match args.mirror.as_deref().filter(|v| !v.trim().is_empty()) {
        Some(value) => vec![Mirror::parse(value)?],
        None => Mirror::defaults(),
    };
    eprintln!("xtask: MNIST into {}", dir.display());
    let outcomes = Fetcher::new(mirrors)
        .fetch_mnist(&dir, &Bars::new())
        .with_context(|| format!("fetching MNIST into {}", dir.display()))?;
    for outcome in outcomes {
        match outcome {
            FetchOutcome::AlreadyPresent(path) => {
                eprintln!("  ok        {} (already present, verified)", path.display())
            }
            FetchOutcome::Fetched { path, from, bytes } => eprintln!(
                "  fetched   {} ({bytes} bytes from {from}, verified)",
                path.display()
            ),
        }
    }
    Ok(dir)
}
