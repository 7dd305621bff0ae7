//! A checkpoint scored as `gan eval --checkpoint` scores it, and as the evaluation that ends a
//! finished run ([`crate::session::Finished::evaluate`]) does: images generated from it
//! against the LeNet features of the test set, with the metrics' floor and ceiling, and a
//! likelihood model's test ELBO and NLL when asked. The scores of the sampling weights are
//! saved as the run's `eval.json`.

use std::path::{Path, PathBuf};

use gan_data::{Images, Mnist};
use gan_eval::{uniform_noise, EvalReport, Evaluator, ScoreSpread};

use crate::error::TrainError;
use crate::family::SampleWeights;
use crate::inference::{Samples, TrainedGenerator};
use crate::likelihood::LikelihoodReport;
use crate::run_dir::EVAL_FILE;
use crate::saved_eval::{SamplingCost, SavedEvaluation};

/// What to score of a checkpoint.
#[derive(Debug, Clone)]
pub struct CheckpointRequest<'a> {
    /// A run directory or one of its checkpoint files.
    pub path: &'a Path,
    /// Images to generate.
    pub n: usize,
    /// Seed of their noise.
    pub seed: u64,
    /// The live weights instead of the EMA.
    pub raw: bool,
    /// A fitted prior's model sampling the prior it was trained with instead.
    pub training_prior: bool,
    /// A diffusion model's sampler steps and guidance weight instead of its config's
    /// ([`TrainedGenerator::set_sampling`]); its scores are then not saved as the run's.
    pub sample_steps: Option<u32>,
    pub guidance: Option<f64>,
    /// Importance samples of a likelihood model's NLL (its config's by default).
    pub k: Option<u32>,
    /// Estimate a likelihood model's test ELBO and NLL (the slow part of its evaluation).
    pub likelihood: bool,
    /// Draws to score (noise seeds `seed`, `seed + 1`, …); more than one adds their spread.
    pub repeats: u64,
}

/// Scores and what they are of.
#[derive(Debug)]
pub struct Scored {
    pub source: String,
    pub report: EvalReport,
    pub likelihood: Option<LikelihoodReport>,
    /// The run's `eval.json`, written for the sampling weights and prior (not for `raw` or
    /// `training_prior`).
    pub saved_to: Option<PathBuf>,
    /// The scores' spread over the request's draws, when it asked for more than one.
    pub spread: Option<ScoreSpread>,
    /// What the images cost to draw, when they were drawn here.
    pub sampling: Option<SamplingCost>,
}

/// Real images per floor evaluation, as many as a default evaluation generates.
pub const FLOOR_IMAGES: usize = 10_000;

/// Scores `samples` (with their labels, for a conditional model); `source` names them in
/// the error.
pub fn score_samples(
    evaluator: &Evaluator,
    samples: &Samples,
    source: &str,
) -> Result<EvalReport, TrainError> {
    match &samples.labels {
        Some(labels) => evaluator.evaluate_labelled(&samples.images, labels),
        None => evaluator.evaluate(&samples.images),
    }
    .map_err(|source_error| TrainError::Evaluating {
        what: source.to_owned(),
        source: source_error,
    })
}

/// Generates from a checkpoint and scores the images (and a likelihood model's test
/// likelihood when asked); for the sampling weights, saves the scores with the floor and the
/// ceiling as the run's `eval.json`.
pub fn score_checkpoint(
    request: &CheckpointRequest<'_>,
    mnist: &Mnist,
    evaluator: &Evaluator,
    device: tch::Device,
) -> Result<Scored, TrainError> {
    let path = request.path;
    let Some(last_seed) = request.seed.checked_add(request.repeats.saturating_sub(1)) else {
        return Err(TrainError::SeedsOverflow {
            seed: request.seed,
            repeats: request.repeats,
        });
    };
    let weights = if request.raw {
        SampleWeights::Raw
    } else {
        SampleWeights::Ema
    };
    let mut generator =
        TrainedGenerator::load(path, device, weights).map_err(|e| TrainError::LoadGenerator {
            path: path.to_owned(),
            source: Box::new(e),
        })?;
    if request.training_prior {
        generator.use_training_prior(path)?;
    }
    generator.set_sampling(request.sample_steps, request.guidance)?;
    let resampled = request.sample_steps.is_some() || request.guidance.is_some();
    let mut likelihood = None;
    if generator.is_likelihood_model() && request.likelihood {
        let started = std::time::Instant::now();
        let report = generator
            .likelihood(&mnist.test, request.k, request.seed)
            .map_err(|e| TrainError::LikelihoodEstimate {
                source: Box::new(e),
            })?;
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "likelihood estimated"
        );
        likelihood = Some(report);
    } else if request.k.is_some() && !generator.is_likelihood_model() {
        return Err(TrainError::NoLikelihood {
            path: path.to_owned(),
        });
    }
    let (samples, sampling) = generator.generate_timed(request.n, request.seed, None)?;
    let balanced = if samples.labels.is_some() {
        ", every digit equally often"
    } else {
        ""
    };
    let source = format!(
        "{} (step {}, {}), {} images{balanced}, seed {}",
        generator.checkpoint.display(),
        generator.step,
        generator.describe_sampling(),
        samples.images.count,
        request.seed
    );
    let report = score_samples(evaluator, &samples, &source)?;
    let mut saved_to = None;
    if !request.raw && !request.training_prior && !resampled {
        let (floor, ceiling) = floor_and_ceiling(evaluator, mnist, request.seed)?;
        let weights = if generator.has_ema {
            "EMA"
        } else {
            "live (no EMA kept)"
        };
        let saved = SavedEvaluation {
            step: generator.step,
            checkpoint: generator.checkpoint.clone(),
            weights: weights.to_owned(),
            seed: request.seed,
            report: report.clone(),
            floor: Some(floor),
            ceiling: Some(ceiling),
            likelihood: likelihood.clone(),
            sampling: Some(sampling),
        };
        saved_to = Some(save_beside_the_run(&saved, &generator.checkpoint)?);
    }
    let spread = match request.repeats > 1 {
        true => Some(score_draws(
            &generator, request, last_seed, &report, evaluator,
        )?),
        false => None,
    };
    Ok(Scored {
        source,
        report,
        likelihood,
        spread,
        saved_to,
        sampling: Some(sampling),
    })
}

/// The spread of the scores over the draws of noise seeds `request.seed..=last`: `first` (the
/// draw of `request.seed`) and one more for each of the following seeds.
fn score_draws(
    generator: &TrainedGenerator,
    request: &CheckpointRequest<'_>,
    last: u64,
    first: &EvalReport,
    evaluator: &Evaluator,
) -> Result<ScoreSpread, TrainError> {
    let mut reports = vec![first.clone()];
    for seed in request.seed + 1..=last {
        let samples = generator.generate(request.n, seed, None)?;
        let source = format!("{} images of noise seed {seed}", samples.images.count);
        reports.push(score_samples(evaluator, &samples, &source)?);
        tracing::info!(seed, "scored another draw");
    }
    let draws = format!("noise seeds {}..={last}", request.seed);
    Ok(ScoreSpread::of(draws, &reports).unwrap_or_else(|| unreachable!("one draw at least")))
}

/// The floor (10,000 training images, with labels) and the ceiling (10,000 images of uniform
/// noise from `seed`) of the metrics.
pub fn floor_and_ceiling(
    evaluator: &Evaluator,
    mnist: &Mnist,
    seed: u64,
) -> Result<(EvalReport, EvalReport), TrainError> {
    let floor = slice(&mnist.train.images, 0, FLOOR_IMAGES);
    let floor_labels = &mnist.train.labels[..floor.count];
    Ok((
        evaluator.evaluate_labelled(&floor, floor_labels)?,
        evaluator.evaluate(&uniform_noise(10_000, seed)?)?,
    ))
}

/// Writes `saved` as the run's `eval.json` (the run holding `checkpoint`), for `gan report`
/// and `gan compare`; returns its path.
fn save_beside_the_run(saved: &SavedEvaluation, checkpoint: &Path) -> Result<PathBuf, TrainError> {
    let path = beside_the_run(checkpoint, EVAL_FILE)?;
    saved.save(&path)?;
    Ok(path)
}

/// The file `name` in the run directory of `checkpoint` (a file in its `checkpoints/`).
pub(crate) fn beside_the_run(checkpoint: &Path, name: &str) -> Result<PathBuf, TrainError> {
    let Some(run_root) = checkpoint.parent().and_then(Path::parent) else {
        return Err(TrainError::NotARun {
            path: checkpoint.to_owned(),
            missing: "checkpoints/ parent directory",
        });
    };
    Ok(run_root.join(name))
}

/// `count` images from index `start` on (fewer where the set ends first).
pub fn slice(images: &Images, start: usize, count: usize) -> Images {
    let start = start.min(images.count);
    let count = count.min(images.count - start);
    let len = images.image_len();
    Images {
        count,
        rows: images.rows,
        cols: images.cols,
        pixels: images.pixels[start * len..(start + count) * len].to_vec(),
    }
}
