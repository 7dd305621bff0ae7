//! Fetching MNIST (feature `download`): an ordered list of mirrors, retries for transient
//! faults, SHA-256 of the decompressed content, and an atomic install.
//!
//! Each file is written to a temporary file in the target directory, verified, synced and only
//! then renamed into place, so an interrupted or corrupt download never leaves a file behind
//! under the real name.

use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::checksum::verify_sha256;
use crate::error::DataError;
use crate::install::install;
use crate::mnist::{DataFile, MnistFile};

/// Public mirrors of the canonical files, tried in order.
pub const DEFAULT_MIRRORS: &[&str] = &[
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];

/// A place that serves the four MNIST files under their canonical names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirror {
    /// An `http://` or `https://` base URL; files are fetched from `<url>/<name>.gz`.
    Url(String),
    /// A local directory holding the files (gzipped or raw), such as a shared read-only copy.
    Dir(PathBuf),
}

impl Mirror {
    /// `http(s)://…` is a URL, `file://…` or anything else a directory.
    pub fn parse(value: &str) -> Result<Mirror, DataError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(DataError::InvalidMirror {
                value: value.to_owned(),
                reason: "empty; give an http(s) URL or a directory".to_owned(),
            });
        }
        if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
            Ok(Mirror::Url(trimmed.to_owned()))
        } else if let Some(path) = trimmed.strip_prefix("file://") {
            Ok(Mirror::Dir(PathBuf::from(path)))
        } else if trimmed.contains("://") {
            Err(DataError::InvalidMirror {
                value: value.to_owned(),
                reason: "only http://, https:// and file:// are supported".to_owned(),
            })
        } else {
            Ok(Mirror::Dir(PathBuf::from(trimmed)))
        }
    }

    /// The public mirrors, in order.
    pub fn defaults() -> Vec<Mirror> {
        DEFAULT_MIRRORS
            .iter()
            .map(|u| Mirror::Url((*u).to_owned()))
            .collect()
    }
}

impl fmt::Display for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mirror::Url(url) => f.write_str(url),
            Mirror::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// Already in the directory with the right checksum; nothing was transferred.
    AlreadyPresent(PathBuf),
    /// Transferred from `from`, verified and installed at the path.
    Fetched {
        path: PathBuf,
        from: String,
        bytes: u64,
    },
}

/// Observer of transfers, so a binary can draw progress bars; libraries stay silent.
pub trait FetchProgress: Sync {
    /// A transfer of `file` from `source` begins; `total` is its size when known.
    fn started(&self, _file: &str, _source: &str, _total: Option<u64>) {}
    /// `bytes` more bytes arrived.
    fn advanced(&self, _bytes: u64) {}
    /// The file is settled (present or failed).
    fn finished(&self, _file: &str) {}
}

/// A [`FetchProgress`] that ignores everything.
pub struct NoProgress;
impl FetchProgress for NoProgress {}

/// Fetches MNIST files from an ordered list of mirrors.
#[derive(Debug, Clone)]
pub struct Fetcher {
    mirrors: Vec<Mirror>,
    retries: u32,
    backoff: Duration,
    timeout: Duration,
}

enum TransferError {
    /// Worth retrying on the same mirror: timeouts, dropped connections, 5xx.
    Transient(String),
    /// Go to the next mirror: 404, missing local file, bad checksum.
    Permanent(String),
}

impl Fetcher {
    /// A fetcher over `mirrors`, in order, with two retries per mirror for transient faults.
    pub fn new(mirrors: Vec<Mirror>) -> Self {
        Fetcher {
            mirrors,
            retries: 2,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
        }
    }

    /// Retries per mirror after a transient fault (the first try not counted).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Wait before the first retry; doubled for each further one.
    pub fn backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// Timeout for connecting and for each stall while receiving.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn mirrors(&self) -> &[Mirror] {
        &self.mirrors
    }

    /// Makes sure all four MNIST files are in `dir` and verified, fetching what is missing.
    pub fn fetch_mnist(
        &self,
        dir: &Path,
        progress: &dyn FetchProgress,
    ) -> Result<Vec<FetchOutcome>, DataError> {
        MnistFile::ALL
            .iter()
            .map(|file| self.fetch(dir, &file.data_file(), progress))
            .collect()
    }

    /// Makes sure `file` is in `dir` and verified, fetching it if it is missing or corrupt.
    pub fn fetch(
        &self,
        dir: &Path,
        file: &DataFile,
        progress: &dyn FetchProgress,
    ) -> Result<FetchOutcome, DataError> {
        let result = self.fetch_inner(dir, file, progress);
        progress.finished(&file.gz_name);
        result
    }

    fn fetch_inner(
        &self,
        dir: &Path,
        file: &DataFile,
        progress: &dyn FetchProgress,
    ) -> Result<FetchOutcome, DataError> {
        let created = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
        for existing in [dir.join(&file.gz_name), dir.join(&file.raw_name)] {
            if !existing.is_file() {
                continue;
            }
            match verify_sha256(&existing, &file.gz_name, &file.sha256) {
                Ok(()) => return Ok(FetchOutcome::AlreadyPresent(existing)),
                Err(e) => {
                    tracing::warn!(path = %existing.display(), "removing a corrupt copy: {e}");
                    std::fs::remove_file(&existing).map_err(|e| DataError::io(&existing, e))?;
                }
            }
        }

        let name = file.gz_name.clone();
        let mut attempts = Vec::new();
        for mirror in &self.mirrors {
            for attempt in 0..=self.retries {
                if attempt > 0 {
                    std::thread::sleep(self.backoff * 2u32.saturating_pow(attempt - 1));
                }
                let mut part = tempfile::Builder::new()
                    .prefix(&format!(".{name}."))
                    .suffix(".part")
                    .tempfile_in(dir)
                    .map_err(|e| DataError::io(dir, crate::install::without_temp_path(e)))?;
                let result = self
                    .transfer(mirror, file, part.as_file_mut(), progress)
                    .and_then(|(bytes, installed_name)| {
                        verify_sha256(part.path(), &name, &file.sha256)
                            .map(|()| (bytes, installed_name))
                            .map_err(|e| TransferError::Permanent(e.to_string()))
                    });
                match result {
                    Ok((bytes, installed_name)) => {
                        let path = dir.join(installed_name);
                        install(part, &path)?;
                        tracing::info!(file = %name, from = %mirror, bytes, "fetched");
                        return Ok(FetchOutcome::Fetched {
                            path,
                            from: mirror.to_string(),
                            bytes,
                        });
                    }
                    Err(TransferError::Permanent(reason)) => {
                        tracing::warn!(file = %name, mirror = %mirror, "{reason}");
                        attempts.push(format!("{mirror}: {reason}"));
                        break;
                    }
                    Err(TransferError::Transient(reason)) => {
                        tracing::warn!(file = %name, mirror = %mirror, attempt, "{reason}");
                        attempts.push(format!("{mirror} (try {}): {reason}", attempt + 1));
                    }
                }
            }
        }
        if attempts.is_empty() {
            attempts.push("no mirror configured".to_owned());
        }
        if created {
            // A fetch that got nothing leaves no empty folder behind (removes only an empty one).
            let _ = std::fs::remove_dir(dir);
        }
        Err(DataError::AllMirrorsFailed {
            file: name,
            attempts,
        })
    }

    /// Copies `file` from `mirror` into `out`; returns the byte count and the name to install.
    fn transfer(
        &self,
        mirror: &Mirror,
        file: &DataFile,
        out: &mut File,
        progress: &dyn FetchProgress,
    ) -> Result<(u64, String), TransferError> {
        match mirror {
            Mirror::Dir(root) => {
                let source = file
                    .locate(root)
                    .map_err(|_| TransferError::Permanent(format!("no {} there", file.gz_name)))?;
                let reader = File::open(&source).map_err(|e| {
                    TransferError::Permanent(format!("cannot open {}: {e}", source.display()))
                })?;
                let total = reader.metadata().ok().map(|m| m.len());
                progress.started(&file.gz_name, &source.display().to_string(), total);
                let bytes = copy_with_progress(reader, out, progress)
                    .map_err(|e| TransferError::Transient(format!("copy failed: {e}")))?;
                let installed = source
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| file.gz_name.clone());
                Ok((bytes, installed))
            }
            Mirror::Url(base) => {
                let url = format!("{}/{}", base.trim_end_matches('/'), file.gz_name);
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_connect(Some(self.timeout))
                    .timeout_recv_response(Some(self.timeout))
                    .timeout_recv_body(Some(self.timeout * 20))
                    .build()
                    .into();
                let mut response = agent.get(&url).call().map_err(|e| match e {
                    ureq::Error::StatusCode(code) if (500..600).contains(&code) || code == 429 => {
                        TransferError::Transient(format!("HTTP {code} for {url}"))
                    }
                    ureq::Error::StatusCode(code) => {
                        TransferError::Permanent(format!("HTTP {code} for {url}"))
                    }
                    other => TransferError::Transient(format!("{url}: {other}")),
                })?;
                let total = response.body().content_length();
                progress.started(&file.gz_name, &url, total);
                let bytes = copy_with_progress(response.body_mut().as_reader(), out, progress)
                    .map_err(|e| {
                        TransferError::Transient(format!("{url}: transfer broke off: {e}"))
                    })?;
                if let Some(total) = total.filter(|&t| t != bytes) {
                    return Err(TransferError::Transient(format!(
                        "{url}: received {bytes} of {total} bytes"
                    )));
                }
                Ok((bytes, file.gz_name.clone()))
            }
        }
    }
}

fn copy_with_progress(
    mut reader: impl Read,
    out: &mut File,
    progress: &dyn FetchProgress,
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        total += n as u64;
        progress.advanced(n as u64);
    }
    out.sync_all()?;
    Ok(total)
}
