//! Errors of drawing and saving pictures.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VizError {
    #[error("cannot draw {path}: {message}")]
    Draw { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read image {path}: {message}")]
    Decode { path: PathBuf, message: String },
    #[error("invalid picture: {0}")]
    Invalid(String),
}

impl VizError {
    pub(crate) fn draw(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        VizError::Draw {
            path: path.to_owned(),
            message: e.to_string(),
        }
    }
}
