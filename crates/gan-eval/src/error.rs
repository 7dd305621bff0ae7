//! Errors of evaluation: each names the file or the value at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error(transparent)]
    Data(#[from] gan_data::DataError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("classifier weights {what}: {why}")]
    Weights { what: String, why: String },
    #[error("samples must be {expected_rows}×{expected_cols} images, got {rows}×{cols}")]
    ImageSize {
        rows: usize,
        cols: usize,
        expected_rows: usize,
        expected_cols: usize,
    },
    #[error("{images} images but {labels} labels: give one label per image")]
    LabelCount { images: usize, labels: usize },
    #[error("label {label} at index {index} is not a digit (0 to 9)")]
    LabelOutOfRange { index: usize, label: u8 },
    #[error("{what} needs at least {needed} images, got {got}")]
    TooFew {
        what: &'static str,
        needed: usize,
        got: usize,
    },
}
