//! Errors from building, loading and describing networks.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("invalid model config: {field} = {value} ({why})")]
    InvalidConfig {
        field: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("{path}: {source}")]
    Torch {
        path: PathBuf,
        #[source]
        source: tch::TchError,
    },
    #[error("{path}: tensor {name} is missing; the file is not a checkpoint of this model")]
    MissingTensor { path: PathBuf, name: String },
    #[error("{path}: tensor {name} has shape {found:?}, the model expects {expected:?}; the checkpoint was made with another configuration")]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        found: Vec<i64>,
        expected: Vec<i64>,
    },
}
