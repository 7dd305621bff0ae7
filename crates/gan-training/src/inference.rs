//! A trained generator loaded from a run directory or a checkpoint, for sampling.

use std::path::{Path, PathBuf};

use gan_data::{DeviceRng, Images, Split};
use gan_models::CLASSES;
use tch::{Device, Tensor};

use crate::checkpoint;
use crate::config::TrainConfig;
use crate::data_tensors::{binarize_images, label_tensor};
use crate::error::TrainError;
use crate::family::{Family, LikelihoodModel, SampleWeights};
use crate::likelihood::{HeldOut, LikelihoodReport};
use crate::run_dir::{RunDir, CHECKPOINTS_DIR};
use crate::saved_eval::SamplingCost;

/// Which classes a conditional model is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Digits {
    /// Every class equally often: sample `i` is of class `i mod 10`.
    #[default]
    Balanced,
    /// Only this class.
    Only(u8),
}

impl Digits {
    /// The class of each of `n` samples.
    pub fn labels(self, n: usize) -> Vec<u8> {
        match self {
            Digits::Balanced => (0..n).map(|i| (i % CLASSES as usize) as u8).collect(),
            Digits::Only(digit) => vec![digit; n],
        }
    }
}

/// Generated images with the class each was asked to show (conditional models only).
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    pub images: Images,
    pub labels: Option<Vec<u8>>,
}

/// A model with the weights of a checkpoint, sampling in inference mode.
pub struct TrainedGenerator {
    pub config: TrainConfig,
    /// The checkpoint the weights came from.
    pub checkpoint: PathBuf,
    /// Training steps behind those weights.
    pub step: u64,
    /// The weights that sample: the EMA where the model keeps one, unless asked for raw.
    pub weights: SampleWeights,
    /// True when the model keeps an EMA (so `weights` chooses between two sets).
    pub has_ema: bool,
    /// Samples decode the prior training used although the run fitted another one
    /// ([`TrainedGenerator::sample_training_prior`]).
    pub training_prior: bool,
    family: Box<dyn Family>,
    device: Device,
}

impl TrainedGenerator {
    /// `path` is a run directory (its newest valid checkpoint is used) or one checkpoint file
    /// of a run (`checkpoints/step-….toml` or `.safetensors`); `weights` picks EMA or raw.
    pub fn load(
        path: &Path,
        device: Device,
        weights: SampleWeights,
    ) -> Result<TrainedGenerator, TrainError> {
        let (run_root, ck) = if path.is_dir() {
            let (run, _) = RunDir::open(path)?;
            (path.to_owned(), checkpoint::latest(&run.checkpoints_dir())?)
        } else {
            let manifest = path.with_extension("toml");
            let in_checkpoints = manifest
                .parent()
                .filter(|p| p.file_name().is_some_and(|n| n == CHECKPOINTS_DIR));
            let Some(checkpoints) = in_checkpoints else {
                return Err(TrainError::NotARun {
                    path: path.to_owned(),
                    missing: "checkpoints/ parent directory (give a run directory or a file in its checkpoints/)",
                });
            };
            let root = checkpoints.parent().unwrap_or(Path::new(".")).to_owned();
            if !manifest.is_file() {
                return Err(TrainError::BadCheckpoint {
                    path: path.to_owned(),
                    why: format!("its manifest {} is missing", manifest.display()),
                });
            }
            (root, checkpoint::load(&manifest)?)
        };
        let (_, config) = RunDir::open(&run_root)?;
        let mut family = crate::execution::build_family_here(&config, device)?;
        for part in family.parts_mut() {
            part.restore(&ck)?;
        }
        let has_ema = family.parts().iter().any(|p| p.ema().is_some());
        Ok(TrainedGenerator {
            config,
            checkpoint: ck.path,
            step: ck.manifest.step,
            weights,
            has_ema,
            training_prior: false,
            family,
            device,
        })
    }

    /// The model, for its parts' weights.
    pub(crate) fn family(&self) -> &dyn Family {
        self.family.as_ref()
    }

    /// `n` images from noise seeded by `seed`, as bytes. A conditional model draws `digits`
    /// (balanced when `None`) and returns the labels; asking an unconditional one for digits
    /// is an error.
    pub fn generate(
        &self,
        n: usize,
        seed: u64,
        digits: Option<Digits>,
    ) -> Result<Samples, TrainError> {
        generate(
            self.family.as_ref(),
            &self.config,
            n,
            seed,
            self.device,
            self.weights,
            digits,
        )
    }
}

impl TrainedGenerator {
    /// `EMA weights` or `raw weights` (and the prior where it is not the one sampling by
    /// default), for what a command prints about its generator.
    pub fn describe_sampling(&self) -> String {
        let weights = match (self.has_ema, self.weights) {
            (false, _) => "weights (no EMA kept)",
            (true, SampleWeights::Ema) => "EMA weights",
            (true, SampleWeights::Raw) => "raw weights",
        };
        let mut text = weights.to_owned();
        if self.training_prior {
            text.push_str(", the training prior N(0, I)");
        }
        if let Some(sampling) = self.config.model.describe_sampling() {
            text.push_str(", ");
            text.push_str(&sampling);
        }
        text
    }

    /// For a model that samples in steps, the way from noise to `rows` samples (the first
    /// images of [`TrainedGenerator::generate`] for `seed`): `frames` states spread from the
    /// pure noise to the sample, a row per sample, with the level of each column. `None`
    /// for a model that samples in one pass.
    pub fn sampling_path(
        &self,
        rows: usize,
        frames: usize,
        seed: u64,
    ) -> Result<Option<(Vec<f64>, Images)>, TrainError> {
        let noise = noise_rows(seed, rows, self.family.latent_dim(), self.device)?;
        let labels = self
            .family
            .conditional()
            .then(|| label_tensor(&Digits::Balanced.labels(rows), self.device));
        let Some(path) = self
            .family
            .sampling_path(&noise, labels.as_ref(), self.weights)
        else {
            return Ok(None);
        };
        let picks = spread(path.len(), frames);
        let levels = picks.iter().map(|&i| path[i].0).collect();
        // (frames, rows, …) to (rows, frames, …): a row per sample.
        let states: Vec<Tensor> = picks.iter().map(|&i| path[i].1.shallow_clone()).collect();
        let by_row = Tensor::stack(&states, 1).flatten(0, 1);
        let images = Images::from_tensor(&by_row, self.config.scaling)?;
        Ok(Some((levels, images)))
    }

    /// Network evaluations each image takes with the current sampling.
    pub fn evaluations_per_image(&self) -> u32 {
        self.config.model.family().evaluations_per_image()
    }

    /// `n` images as [`TrainedGenerator::generate`] draws them, with what they cost.
    pub fn generate_timed(
        &self,
        n: usize,
        seed: u64,
        digits: Option<Digits>,
    ) -> Result<(Samples, SamplingCost), TrainError> {
        let started = std::time::Instant::now();
        let samples = self.generate(n, seed, digits)?;
        let seconds = started.elapsed().as_secs_f64().max(1e-9);
        let cost = SamplingCost {
            evaluations_per_image: self.evaluations_per_image(),
            images_per_second: samples.images.count as f64 / seconds,
        };
        Ok((samples, cost))
    }

    /// Switches to the prior the model was trained with; an error naming `path` for a model
    /// without a fitted prior, so the request never goes unnoticed.
    pub fn use_training_prior(&mut self, path: &Path) -> Result<(), TrainError> {
        if !self.sample_training_prior()? {
            return Err(TrainError::NoFittedPrior {
                path: path.to_owned(),
            });
        }
        Ok(())
    }

    /// The noise vector that `seed` gives the first image of [`TrainedGenerator::generate`]
    /// (so a walk from seed 3 starts at the first image of `gan generate --seed 3`).
    pub fn noise(&self, seed: u64) -> Result<Vec<f32>, TrainError> {
        let latent = self.family.latent_dim();
        let z = DeviceRng::new(seed).normal(0, &[1, latent], self.device)?;
        Ok(Vec::<f32>::try_from(z.view([-1]).to_device(Device::Cpu))?)
    }

    /// Images for the given noise vectors, in inference mode. A conditional model takes one
    /// row of class weights per vector (a one-hot row is a digit; a blend of two rows is a
    /// point between two digits).
    pub fn render(
        &self,
        noise: &[Vec<f32>],
        classes: Option<&[[f32; CLASSES as usize]]>,
    ) -> Result<Images, TrainError> {
        let latent = self.family.latent_dim() as usize;
        if let Some(bad) = noise.iter().find(|z| z.len() != latent) {
            return Err(TrainError::invalid(
                "noise vector",
                format!("{} values", bad.len()),
                format!("the model's noise has {latent} dimensions"),
            ));
        }
        let labels =
            match (self.family.conditional(), classes) {
                (true, Some(rows)) if rows.len() == noise.len() => {
                    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
                    Some(
                        Tensor::from_slice(&flat)
                            .view([rows.len() as i64, CLASSES])
                            .to_device(self.device),
                    )
                }
                (true, _) => return Err(TrainError::invalid(
                    "classes",
                    "missing or of another count than the noise",
                    "a conditional model draws one digit (row of class weights) per noise vector",
                )),
                (false, None) => None,
                (false, Some(_)) => return Err(TrainError::NotConditional),
            };
        let flat: Vec<f32> = noise.iter().flatten().copied().collect();
        let z = Tensor::from_slice(&flat)
            .view([noise.len() as i64, latent as i64])
            .to_device(self.device);
        let images = self.family.generate(&z, labels.as_ref(), self.weights);
        Ok(Images::from_tensor(&images, self.config.scaling)?)
    }

    /// True for a model that draws the digit it is asked for.
    pub fn is_conditional(&self) -> bool {
        self.family.conditional()
    }
}

impl TrainedGenerator {
    /// Samples the prior the model was trained with (`N(0, I)`) where its run fitted another
    /// one for sampling (a VAE's `prior = fitted-mixture`), to compare the two; false, and
    /// nothing changes, when it samples that prior already. The weights are the same.
    pub fn sample_training_prior(&mut self) -> Result<bool, TrainError> {
        let mut config = self.config.clone();
        if !config.model.sample_training_prior() {
            return Ok(false);
        }
        self.rebuild(config)?;
        self.training_prior = true;
        Ok(true)
    }

    /// Samples in `steps` steps and, for a conditional model, with guidance weight
    /// `guidance`, instead of its config's (a diffusion model's `--sample-steps`,
    /// `--guidance`); an error naming the checkpoint for a model that samples in one pass,
    /// and the config's own error for a value out of its range.
    pub fn set_sampling(
        &mut self,
        steps: Option<u32>,
        guidance: Option<f64>,
    ) -> Result<(), TrainError> {
        if steps.is_none() && guidance.is_none() {
            return Ok(());
        }
        if guidance.is_some() && !self.family.conditional() {
            return Err(TrainError::invalid(
                "guidance",
                guidance.unwrap_or_default(),
                "guidance weighs a conditional model's digit against its unconditional \
                 prediction; this model was trained without labels",
            ));
        }
        let mut config = self.config.clone();
        if !config.model.set_sampling(steps, guidance) {
            return Err(TrainError::NotSampledInSteps {
                path: self.checkpoint.clone(),
                family: config.model.name(),
            });
        }
        config.validate()?;
        self.rebuild(config)
    }

    /// The family of `config` with this checkpoint's weights, in place of the current one.
    fn rebuild(&mut self, config: TrainConfig) -> Result<(), TrainError> {
        let ck = checkpoint::load(&self.checkpoint.with_extension("toml"))?;
        let mut family = crate::execution::build_family_here(&config, self.device)?;
        for part in family.parts_mut() {
            part.restore(&ck)?;
        }
        (self.config, self.family) = (config, family);
        Ok(())
    }

    /// Trains on images' likelihood (a VAE) rather than only sampling.
    pub fn is_likelihood_model(&self) -> bool {
        self.family.likelihood_model().is_some()
    }

    fn likelihood_model(&self) -> Result<&dyn LikelihoodModel, TrainError> {
        self.family
            .likelihood_model()
            .ok_or(TrainError::NotALikelihoodModel {
                family: self.config.model.name(),
            })
    }

    /// The ELBO and the `k`-sample log-likelihood estimate (the config's k for `None`) on
    /// `split` (MNIST's test set, binarized once for a binarized model), noise from `seed`.
    pub fn likelihood(
        &self,
        split: &Split,
        k: Option<u32>,
        seed: u64,
    ) -> Result<LikelihoodReport, TrainError> {
        let model = self.likelihood_model()?;
        let held_out = HeldOut::new(split, None, model.binarized(), self.device)?;
        let k = k.unwrap_or_else(|| model.eval_importance_samples());
        crate::likelihood::estimate(model, &held_out, self.family.conditional(), k, seed)
    }

    /// Each image decoded from the mean of its code (Bernoulli means, as bytes), and that
    /// mean, `latent_dim` values per image: what the model keeps of the images. A conditional
    /// model takes their `labels`.
    pub fn reconstruct(
        &self,
        images: &Images,
        labels: Option<&[u8]>,
    ) -> Result<(Images, Vec<Vec<f32>>), TrainError> {
        let model = self.likelihood_model()?;
        let x = images.to_tensor(gan_data::Scaling::ZeroOne, self.device)?;
        let x = if model.binarized() {
            binarize_images(&x)?
        } else {
            x
        };
        let labels = match (self.family.conditional(), labels) {
            (true, Some(l)) => Some(label_tensor(l, self.device)),
            (true, None) => {
                return Err(TrainError::invalid(
                    "labels",
                    "none",
                    "a conditional model encodes an image with its label",
                ))
            }
            (false, _) => None,
        };
        let (mean, _) = model.encode(&x, labels.as_ref());
        let decoded = model.decode(&mean, labels.as_ref());
        let codes = Vec::<Vec<f32>>::try_from(mean.to_device(Device::Cpu))?;
        Ok((Images::from_tensor(&decoded, self.config.scaling)?, codes))
    }

    /// Bernoulli means decoded from the given latent vectors (a walk or a grid over a 2-d
    /// latent space), with `digit` for a conditional model.
    pub fn decode(&self, codes: &[Vec<f32>], digit: Option<u8>) -> Result<Images, TrainError> {
        let model = self.likelihood_model()?;
        let latent = self.family.latent_dim() as usize;
        if let Some(bad) = codes.iter().find(|c| c.len() != latent) {
            return Err(TrainError::invalid(
                "latent code",
                format!("{} values", bad.len()),
                format!("the model's latent space has {latent} dimensions"),
            ));
        }
        let flat: Vec<f32> = codes.iter().flatten().copied().collect();
        let z = Tensor::from_slice(&flat)
            .view([codes.len() as i64, latent as i64])
            .to_device(self.device);
        let labels = match (self.family.conditional(), digit) {
            (true, digit) => Some(label_tensor(
                &vec![digit.unwrap_or(0); codes.len()],
                self.device,
            )),
            (false, None) => None,
            (false, Some(_)) => return Err(TrainError::NotConditional),
        };
        Ok(Images::from_tensor(
            &model.decode(&z, labels.as_ref()),
            self.config.scaling,
        )?)
    }
}

impl TrainedGenerator {
    /// For a 2-d latent space: images decoded over a `side × side` grid of latent values at
    /// evenly spaced quantiles of the prior (z₁ rising left to right, z₂ bottom to top), as
    /// in Kingma & Welling's manifold figures.
    pub fn latent_manifold(&self, side: usize, digit: Option<u8>) -> Result<Images, TrainError> {
        let latent = self.family.latent_dim();
        if latent != 2 {
            return Err(TrainError::invalid(
                "latent_dim",
                latent,
                "a manifold picture needs a 2-d latent space (set latent_dim = 2)",
            ));
        }
        if !(2..=64).contains(&side) {
            return Err(TrainError::invalid(
                "manifold side",
                side,
                "must be in 2..=64",
            ));
        }
        // Φ⁻¹(p) = √2·erfinv(2p − 1) at p = (i + ½) / side.
        let p: Vec<f64> = (0..side).map(|i| (i as f64 + 0.5) / side as f64).collect();
        let quantiles = Vec::<f64>::try_from(
            (Tensor::from_slice(&p) * 2.0 - 1.0).erfinv() * std::f64::consts::SQRT_2,
        )?;
        let codes: Vec<Vec<f32>> = (0..side)
            .flat_map(|row| {
                let z2 = quantiles[side - 1 - row];
                quantiles.iter().map(move |&z1| vec![z1 as f32, z2 as f32])
            })
            .collect();
        self.decode(&codes, digit)
    }
}

/// `count` indices spread evenly over `0..n`, the first and the last among them (all of
/// them when there are fewer).
fn spread(n: usize, count: usize) -> Vec<usize> {
    match count {
        _ if n <= count => return (0..n).collect(),
        0 => return Vec::new(),
        1 => return vec![n - 1],
        _ => {}
    }
    (0..count)
        .map(|k| (k * (n - 1) + (count - 1) / 2) / (count - 1))
        .collect()
}

/// Rows of noise per random stream in [`generate`] and [`noise_rows`].
const NOISE_CHUNK: usize = 1024;

fn noise_chunk(
    seed: u64,
    chunk: usize,
    size: i64,
    latent: i64,
    device: Device,
) -> Result<Tensor, TrainError> {
    Ok(DeviceRng::new(seed).normal(chunk as u64, &[size, latent], device)?)
}

/// The `(n, latent)` noise that [`generate`] draws `n` images from for `seed`.
pub(crate) fn noise_rows(
    seed: u64,
    n: usize,
    latent: i64,
    device: Device,
) -> Result<Tensor, TrainError> {
    if n == 0 {
        return Ok(Tensor::zeros([0, latent], (tch::Kind::Float, device)));
    }
    let chunks = (0..n)
        .step_by(NOISE_CHUNK)
        .enumerate()
        .map(|(chunk, start)| {
            let size = NOISE_CHUNK.min(n - start) as i64;
            noise_chunk(seed, chunk, size, latent, device)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Tensor::cat(&chunks, 0))
}

/// `n` images from `family` in inference mode, as bytes, from noise seeded by `seed`
/// (chunks of 1,024 use streams 0, 1, …), of `digits` for a conditional family.
pub(crate) fn generate(
    family: &dyn Family,
    config: &TrainConfig,
    n: usize,
    seed: u64,
    device: Device,
    weights: SampleWeights,
    digits: Option<Digits>,
) -> Result<Samples, TrainError> {
    let labels = match (family.conditional(), digits) {
        (true, digits) => Some(digits.unwrap_or_default().labels(n)),
        (false, None) => None,
        (false, Some(_)) => return Err(TrainError::NotConditional),
    };
    if let Some(&digit) = labels.iter().flatten().find(|&&d| i64::from(d) >= CLASSES) {
        return Err(TrainError::invalid(
            "digit",
            digit,
            format!("the model knows classes 0 to {}", CLASSES - 1),
        ));
    }
    let latent = family.latent_dim();
    let [_, rows, cols] = config.model.image_shape();
    let mut all = Images {
        count: 0,
        rows: rows as usize,
        cols: cols as usize,
        pixels: Vec::with_capacity(n * (rows * cols) as usize),
    };
    for (chunk, start) in (0..n).step_by(NOISE_CHUNK).enumerate() {
        let size = NOISE_CHUNK.min(n - start) as i64;
        let noise = noise_chunk(seed, chunk, size, latent, device)?;
        let classes = labels
            .as_ref()
            .map(|l| label_tensor(&l[start..start + size as usize], device));
        let images = family.generate(&noise, classes.as_ref(), weights);
        let bytes = Images::from_tensor(&images, config.scaling)?;
        all.count += bytes.count;
        all.pixels.extend_from_slice(&bytes.pixels);
    }
    Ok(Samples {
        images: all,
        labels,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn spread_picks_the_ends_and_even_steps_between() {
        use super::spread;
        assert_eq!(spread(26, 9), vec![0, 3, 6, 9, 13, 16, 19, 22, 25]);
        assert_eq!(spread(3, 9), vec![0, 1, 2]);
        assert_eq!(spread(5, 1), vec![4]);
        assert!(spread(5, 0).is_empty());
        assert_eq!(spread(5, 2), vec![0, 4]);
    }
}
