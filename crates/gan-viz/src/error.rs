//! Errors of drawing and saving pictures.

use std::path::{Path, PathBuf};

use plotters::drawing::DrawingAreaErrorKind;
use plotters_backend::DrawingErrorKind;
use plotters_bitmap::BitMapBackendError;

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
    pub(crate) fn draw(path: &Path, e: impl DrawFailure) -> Self {
        e.at(path)
    }
}

/// A failure of plotters' drawing or saving, as a [`VizError`] for the picture at a path.
/// plotters formats its bitmap backend's errors with `Debug` (`IOError(Os { code: 28, … })`);
/// these take the I/O error out so that it reads as one sentence.
pub(crate) trait DrawFailure {
    fn at(self, path: &Path) -> VizError;
}

impl DrawFailure for BitMapBackendError {
    fn at(self, path: &Path) -> VizError {
        let message = match self {
            BitMapBackendError::IOError(source)
            | BitMapBackendError::ImageError(image::ImageError::IoError(source)) => {
                return VizError::Io {
                    path: path.to_owned(),
                    source,
                }
            }
            BitMapBackendError::ImageError(e) => e.to_string(),
            // Formats its I/O error as the OS does.
            BitMapBackendError::GifEncodingError(e) => e.to_string(),
            BitMapBackendError::InvalidBuffer => "the pixel buffer has the wrong size".to_owned(),
            #[allow(unreachable_patterns)]
            other => other.to_string(),
        };
        VizError::Draw {
            path: path.to_owned(),
            message,
        }
    }
}

impl DrawFailure for DrawingErrorKind<BitMapBackendError> {
    fn at(self, path: &Path) -> VizError {
        match self {
            DrawingErrorKind::DrawingError(e) => e.at(path),
            DrawingErrorKind::FontError(e) => VizError::Draw {
                path: path.to_owned(),
                message: format!("a font failed: {e}"),
            },
        }
    }
}

impl DrawFailure for DrawingAreaErrorKind<BitMapBackendError> {
    fn at(self, path: &Path) -> VizError {
        match self {
            DrawingAreaErrorKind::BackendError(e) => e.at(path),
            other => VizError::Draw {
                path: path.to_owned(),
                message: other.to_string(),
            },
        }
    }
}

/// What the SVG backend reports (plain I/O errors, which format well).
impl DrawFailure for DrawingAreaErrorKind<std::io::Error> {
    fn at(self, path: &Path) -> VizError {
        VizError::Draw {
            path: path.to_owned(),
            message: self.to_string(),
        }
    }
}

/// A chart's builder steps, boxed by `?`.
impl DrawFailure for Box<dyn std::error::Error> {
    fn at(self, path: &Path) -> VizError {
        match self.downcast::<DrawingAreaErrorKind<BitMapBackendError>>() {
            Ok(e) => e.at(path),
            Err(other) => VizError::Draw {
                path: path.to_owned(),
                message: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full-disk error of a bitmap save reads as an I/O error of the picture's path.
    #[test]
    fn backend_io_errors_read_as_io_errors() {
        let full = || std::io::Error::from_raw_os_error(28);
        let path = Path::new("runs/x/loss.png");
        for e in [
            DrawingAreaErrorKind::BackendError(DrawingErrorKind::DrawingError(
                BitMapBackendError::IOError(full()),
            )),
            DrawingAreaErrorKind::BackendError(DrawingErrorKind::DrawingError(
                BitMapBackendError::ImageError(image::ImageError::IoError(full())),
            )),
        ] {
            let boxed: Box<dyn std::error::Error> = Box::new(e);
            let message = VizError::draw(path, boxed).to_string();
            assert_eq!(message, format!("runs/x/loss.png: {}", full()));
            assert!(!message.contains("Os {"), "{message}");
        }
    }
}
