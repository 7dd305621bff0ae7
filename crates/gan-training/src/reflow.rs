//! Reflow (Liu et al. 2023, "Flow straight and fast"): a trained flow turns noise into
//! images; a new flow, starting from the trained one's weights, learns to move each noise
//! to *its* image along a straight line. Paths that no longer cross are nearly straight, so
//! a step or two of Euler's method follows them where the first flow needed dozens.
//!
//! A reflow run's config names its source (run, checkpoint step, how it sampled) and the
//! number of pairs. The pairs' noise is a function of the run's seed (regenerated, never
//! stored); their images are drawn once, when the run starts, and kept in the run directory
//! (`reflow/`, as IDX files) so a resumed run trains on the same pairs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use gan_data::{read_images, read_labels, write_images, write_labels, Split};
use tch::{Device, Tensor};

use crate::checkpoint;
use crate::config::TrainConfig;
pub use crate::config::{ReflowConfig, DEFAULT_PAIRS, MAX_PAIRS};
use crate::error::TrainError;
use crate::family::SampleWeights;
use crate::inference::{noise_rows, Digits, TrainedGenerator};
use crate::run_dir::{RunDir, PAIRS_DIR};

/// The config of a reflow run of the flow in `source` (a run directory), from its newest
/// checkpoint: the source's config with the family set up to learn from pairs and sample in
/// few steps, and `pairs` to draw. Reads the source; writes nothing.
pub fn reflow_config(source: &Path, pairs: u64) -> Result<TrainConfig, TrainError> {
    let cannot = |e: TrainError| TrainError::CannotReflow {
        path: source.to_owned(),
        source: Box::new(e),
    };
    let (run, mut config) = RunDir::open(source).map_err(cannot)?;
    let newest = checkpoint::latest(&run.checkpoints_dir()).map_err(cannot)?;
    let source_sampling = config
        .model
        .family()
        .describe_sampling()
        .unwrap_or_default();
    config.model.family_mut().prepare_reflow().map_err(cannot)?;
    let source = std::path::absolute(source).unwrap_or_else(|_| source.to_owned());
    config.reflow = Some(ReflowConfig {
        source,
        source_step: newest.manifest.step,
        source_sampling,
        pairs,
    });
    config.validate()?;
    Ok(config)
}

/// The source's checkpoint named by `reflow`, loaded on `device` with its sampling weights.
pub(crate) fn load_source(
    reflow: &ReflowConfig,
    device: Device,
) -> Result<TrainedGenerator, TrainError> {
    let cannot = |e: TrainError| TrainError::CannotReflow {
        path: reflow.source.clone(),
        source: Box::new(e),
    };
    let checkpoints = reflow.source.join(crate::run_dir::CHECKPOINTS_DIR);
    let manifest =
        checkpoint::manifest_of_step(&checkpoints, reflow.source_step).map_err(cannot)?;
    TrainedGenerator::load(&manifest, device, SampleWeights::Ema).map_err(cannot)
}

/// The pairs' images drawn by `source` from the noise of a run of `seed`: image `i` is the
/// source's sample of noise row `i` of [`pair_noise`] (of class `i mod 10` for a
/// conditional flow). Returns them with the seconds the drawing took.
pub(crate) fn draw_pairs(
    source: &TrainedGenerator,
    reflow: &ReflowConfig,
    seed: u64,
) -> Result<(Split, f64), TrainError> {
    let started = Instant::now();
    let n = reflow.pairs as usize;
    let digits = source.is_conditional().then_some(Digits::Balanced);
    let samples = source.generate(n, ReflowConfig::noise_seed(seed), digits)?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(pairs = n, seconds, "drew the reflow pairs");
    let split = Split {
        images: samples.images,
        labels: samples.labels.unwrap_or_default(),
    };
    Ok((split, seconds))
}

/// The noise of every pair of a run of `seed`, `(pairs, latent_dim)`, as [`draw_pairs`]
/// used it.
pub(crate) fn pair_noise(
    reflow: &ReflowConfig,
    seed: u64,
    latent_dim: i64,
    device: Device,
) -> Result<Tensor, TrainError> {
    noise_rows(
        ReflowConfig::noise_seed(seed),
        reflow.pairs as usize,
        latent_dim,
        device,
    )
}

fn pair_paths(root: &Path) -> (PathBuf, PathBuf) {
    let dir = root.join(PAIRS_DIR);
    (dir.join("images-idx3-ubyte"), dir.join("labels-idx1-ubyte"))
}

/// Writes the pairs' images (and labels, when there are) under the run's `reflow/`.
pub(crate) fn write_pairs(root: &Path, pairs: &Split) -> Result<(), TrainError> {
    let (images, labels) = pair_paths(root);
    if let Some(dir) = images.parent() {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    }
    write_images(&images, &pairs.images)?;
    if !pairs.labels.is_empty() {
        write_labels(&labels, &pairs.labels)?;
    }
    Ok(())
}

/// The pairs a reflow run in `root` drew when it started, checked against its config.
pub(crate) fn read_pairs(
    root: &Path,
    reflow: &ReflowConfig,
    conditional: bool,
) -> Result<Split, TrainError> {
    let (images_path, labels_path) = pair_paths(root);
    let images = read_images(&images_path).map_err(gan_data::DataError::from)?;
    let labels = if conditional {
        read_labels(&labels_path).map_err(gan_data::DataError::from)?
    } else {
        Vec::new()
    };
    let expected = reflow.pairs as usize;
    let counts_match = images.count == expected && (!conditional || labels.len() == expected);
    if !counts_match {
        return Err(TrainError::BadPairs {
            path: images_path,
            why: format!(
                "holds {} images and {} labels; the config drew {expected} pairs",
                images.count,
                labels.len()
            ),
        });
    }
    Ok(Split { images, labels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_counts_are_bounded() {
        let mut reflow = ReflowConfig {
            source: "runs/a".into(),
            source_step: 10,
            source_sampling: String::new(),
            pairs: 0,
        };
        let err = reflow.validate().unwrap_err().to_string();
        assert!(err.contains("reflow.pairs"), "{err}");
        reflow.pairs = MAX_PAIRS + 1;
        assert!(reflow.validate().is_err());
        reflow.pairs = 1;
        reflow.validate().unwrap();
    }
}
