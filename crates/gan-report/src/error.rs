//! Errors of reading runs and writing pages and event files.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path} is not a run directory ({why}); give a directory made by `gan train`")]
    NotARun { path: PathBuf, why: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Train(#[from] gan_training::TrainError),
    #[error(transparent)]
    Viz(#[from] gan_viz::VizError),
    #[error("{0}")]
    Invalid(String),
}

impl ReportError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> ReportError {
        ReportError::Io {
            path: path.to_owned(),
            source,
        }
    }
}
