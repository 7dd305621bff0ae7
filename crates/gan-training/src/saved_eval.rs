//! `eval.json`: the latest `gan eval` of a run's model (its sampling weights), with the floor
//! and ceiling measured beside it, so that reports and comparisons show numbers of the
//! evaluation protocol without sampling again.

use std::path::{Path, PathBuf};

use gan_eval::EvalReport;
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::error::TrainError;
use crate::likelihood::LikelihoodReport;

/// One evaluation of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedEvaluation {
    /// Training steps behind the weights.
    pub step: u64,
    pub checkpoint: PathBuf,
    /// "EMA" or "live" weights.
    pub weights: String,
    /// Seed of the generated noise.
    pub seed: u64,
    pub report: EvalReport,
    /// Real training images scored the same way: what a perfect model would get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<EvalReport>,
    /// Uniform noise scored the same way: what no model at all gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling: Option<EvalReport>,
    /// Test ELBO and NLL of a likelihood model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likelihood: Option<LikelihoodReport>,
    /// What the images cost to draw (absent from evaluations saved before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<SamplingCost>,
}

/// What drawing images cost: network evaluations per image (one for a GAN or a VAE, the
/// sampler's count for a diffusion model) and images generated per second on the machine
/// that scored them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplingCost {
    pub evaluations_per_image: u32,
    pub images_per_second: f64,
}

impl SavedEvaluation {
    /// Writes `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let text = serde_json::to_string_pretty(self).expect("an evaluation serializes");
        write_atomic(path, text.as_bytes())
    }

    pub fn load(path: &Path) -> Result<SavedEvaluation, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| TrainError::BadCheckpoint {
            path: path.to_owned(),
            why: format!("not an evaluation written by `gan eval`: {e}"),
        })
    }
}
