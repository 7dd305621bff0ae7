//! Quality against sampling cost: one checkpoint of a diffusion model scored at several
//! sampler step counts (`gan eval --steps-curve`), saved beside the run as
//! `sampling-steps.json` for its report.

use std::path::{Path, PathBuf};

use gan_eval::{EvalReport, Evaluator};
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::error::TrainError;
use crate::family::SampleWeights;
use crate::inference::TrainedGenerator;
pub use crate::run_dir::STEPS_CURVE_FILE;
use crate::saved_eval::SamplingCost;
use crate::scoring::{beside_the_run, score_samples};

/// Step counts scored when none are given: powers of two from one step to 64.
pub const DEFAULT_CURVE_STEPS: [u32; 7] = [1, 2, 4, 8, 16, 32, 64];

/// One step count's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub steps: u32,
    pub sampling: SamplingCost,
    pub report: EvalReport,
}

/// A checkpoint scored at several step counts, fewest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepsCurve {
    /// Training steps behind the weights.
    pub step: u64,
    pub checkpoint: PathBuf,
    /// The sampler and the steps its config samples with.
    pub config_sampling: String,
    /// Images per point and the seed of their noise.
    pub images: usize,
    pub seed: u64,
    pub points: Vec<CurvePoint>,
}

impl StepsCurve {
    /// Scores `n` images of noise seed `seed` from the checkpoint at `path` (a run directory
    /// or a checkpoint file) at each of `steps`; refused for a model that samples in one pass.
    pub fn measure(
        path: &Path,
        steps: &[u32],
        n: usize,
        seed: u64,
        evaluator: &Evaluator,
        device: tch::Device,
    ) -> Result<StepsCurve, TrainError> {
        let mut generator =
            TrainedGenerator::load(path, device, SampleWeights::Ema).map_err(|e| {
                TrainError::LoadGenerator {
                    path: path.to_owned(),
                    source: Box::new(e),
                }
            })?;
        let config_sampling = generator.describe_sampling();
        let mut sorted = steps.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut points = Vec::with_capacity(sorted.len());
        for steps in sorted {
            generator.set_sampling(Some(steps), None)?;
            let (samples, sampling) = generator.generate_timed(n, seed, None)?;
            let source = format!("{n} images in {steps} sampler steps");
            let report = score_samples(evaluator, &samples, &source)?;
            tracing::info!(
                steps,
                fid = report.frechet_distance,
                images_per_second = sampling.images_per_second,
                "scored a step count"
            );
            points.push(CurvePoint {
                steps,
                sampling,
                report,
            });
        }
        Ok(StepsCurve {
            step: generator.step,
            checkpoint: generator.checkpoint.clone(),
            config_sampling,
            images: n,
            seed,
            points,
        })
    }

    /// Writes the curve beside the run its checkpoint belongs to; returns the path.
    pub fn save_beside_the_run(&self) -> Result<PathBuf, TrainError> {
        let path = beside_the_run(&self.checkpoint, STEPS_CURVE_FILE)?;
        let text = serde_json::to_string_pretty(self).expect("a curve serializes");
        write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }

    pub fn load(path: &Path) -> Result<StepsCurve, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| TrainError::BadCheckpoint {
            path: path.to_owned(),
            why: format!("not a curve written by `gan eval --steps-curve`: {e}"),
        })
    }
}
