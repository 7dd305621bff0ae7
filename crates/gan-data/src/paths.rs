//! Where data lives by default, shared by `gan` and `cargo xtask` so both find the same files.

use std::path::PathBuf;

/// Environment variable that overrides the data directory (as `--data-dir` does).
pub const DATA_DIR_ENV: &str = "GAN_DATA_DIR";
/// Environment variable naming a mirror (URL or local directory) to fetch MNIST from first.
pub const DATA_MIRROR_ENV: &str = "GAN_DATA_MIRROR";

/// `$GAN_DATA_DIR`, else a per-user cache shared by every checkout:
/// `$XDG_CACHE_HOME/gan-rs/mnist` or `~/.cache/gan-rs/mnist` (`./data/mnist` without a home).
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = non_empty_env(DATA_DIR_ENV) {
        return PathBuf::from(dir);
    }
    cache_dir()
        .map(|c| c.join("gan-rs").join("mnist"))
        .unwrap_or_else(|| PathBuf::from("data").join("mnist"))
}

/// A local directory that holds all four MNIST files: `$GAN_DATA_MIRROR` when it names one,
/// else the default data directory; `None` when neither does (nothing is fetched).
pub fn local_mnist_dir() -> Option<PathBuf> {
    non_empty_env(DATA_MIRROR_ENV)
        .map(PathBuf::from)
        .into_iter()
        .chain([default_data_dir()])
        .find(|dir| crate::Mnist::is_complete(dir))
}

/// The per-user cache directory (`$XDG_CACHE_HOME`, else `$HOME/.cache`).
pub fn cache_dir() -> Option<PathBuf> {
    non_empty_env("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty_env("HOME").map(|h| PathBuf::from(h).join(".cache")))
}

fn non_empty_env(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}
