//! Typed errors: each names the file (or mirror) at fault and what to do about it.

use std::path::PathBuf;

/// A problem with one IDX file: unreadable, not IDX, or inconsistent with itself.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid gzip stream ({source})")]
    Gzip {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is empty")]
    Empty { path: PathBuf },
    #[error("{path} ends inside its IDX header ({found} bytes, {expected} needed); the file is truncated")]
    HeaderTruncated {
        path: PathBuf,
        found: usize,
        expected: usize,
    },
    #[error("{path} is not an IDX file: it starts with {found:#010x}, where IDX has two zero bytes, a type code and a dimension count (0x00000801 labels, 0x00000803 images)")]
    NotIdx { path: PathBuf, found: u32 },
    #[error("{path} has magic number {found:#010x}, expected {expected:#010x} ({what})")]
    InvalidMagic {
        path: PathBuf,
        found: u32,
        expected: u32,
        what: &'static str,
    },
    #[error("{path} holds IDX element type {code:#04x}; only unsigned bytes (0x08) are supported")]
    UnsupportedType { path: PathBuf, code: u8 },
    #[error("{path} declares a dimension of size 0 in {dims:?}; images need rows and columns")]
    EmptyDimension { path: PathBuf, dims: Vec<u32> },
    #[error("{path} declares dimensions {dims:?}, whose size overflows memory")]
    SizeOverflow { path: PathBuf, dims: Vec<u32> },
    #[error("{path} declares {expected} bytes of data after its header but holds only {found}; the file is truncated")]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{path} holds more than the {expected} bytes its header declares; it is not a clean IDX file")]
    TrailingBytes { path: PathBuf, expected: u64 },
    #[error("{path}: label {label} at index {index} is out of range (0..{classes})")]
    LabelOutOfRange {
        path: PathBuf,
        index: usize,
        label: u8,
        classes: usize,
    },
    #[error("{images_path} holds {images} images but {labels_path} holds {labels} labels; they must match")]
    CountMismatch {
        images_path: PathBuf,
        images: usize,
        labels_path: PathBuf,
        labels: usize,
    },
}

/// Errors from locating, verifying and fetching data files.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Idx(#[from] IdxError),
    /// A file of the MNIST cache does not read: unlike a user's own file, it can be fetched
    /// again.
    #[error("{source}; delete it and MNIST's missing files are fetched again by the next `gan train` (or `cargo xtask fetch-data`)")]
    DamagedMnist {
        #[source]
        source: IdxError,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file} not found in {dir}; run `cargo xtask fetch-data --dir {dir}` (or pass --mirror DIR|URL)")]
    Missing { dir: PathBuf, file: String },
    #[error("{file}: SHA-256 of the decompressed content is {found}, expected {expected}; the file is corrupt or not the canonical MNIST file")]
    ChecksumMismatch {
        file: String,
        found: String,
        expected: String,
    },
    #[error("could not fetch {file} from any mirror:\n{}", .attempts.iter().map(|a| format!("  - {a}")).collect::<Vec<_>>().join("\n"))]
    AllMirrorsFailed { file: String, attempts: Vec<String> },
    #[error("invalid mirror {value:?}: {reason}")]
    InvalidMirror { value: String, reason: String },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
