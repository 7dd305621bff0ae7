//! Model families: what is trained and how one step goes, behind one [`Family`] trait, so the
//! loop, checkpoints, metrics and tools never assume a particular model.
//!
//! A family owns named [`Part`]s (a network with its optimizer and, optionally, an EMA
//! shadow), takes one step on a batch and reports named [`Metric`]s, and samples images from
//! noise. [`ModelConfig`] is the family's config, tagged by `family` in TOML; adding a family
//! is a module here with its config and one line in the [`registry`].
//!
//! - [`gan`](GanFamily): a generator against a discriminator.
//! - [`vae`]: an encoder and a decoder on the evidence lower bound; also a
//!   [`LikelihoodModel`], so its test log-likelihood can be estimated.
//! - [`diffusion`]: a denoiser of noised images (DDPM's noise prediction or flow matching),
//!   sampled in a chosen number of steps.

pub mod diffusion;
mod gan;
pub mod registry;
#[cfg(test)]
mod toy;
pub mod vae;

use gan_models::Summary;
use tch::{Device, Tensor};

pub use diffusion::{DiffusionConfig, DiffusionFamily};
pub use gan::{DiscriminatorUpdate, FakeMode, GanConfig, GanFamily};
pub use registry::{FamilyConfig, ModelConfig};
pub use vae::{PriorConfig, VaeConfig, VaeFamily};

use crate::error::TrainError;
use crate::part::Part;

/// One number a family reports at every step: a column of `metrics.csv`, a term of the log
/// line, a curve of the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// Column name in `metrics.csv` (`d_loss`).
    pub key: &'static str,
    /// How the log line and the chart legend name it (`D loss`).
    pub label: &'static str,
    /// The chart panel it is drawn in (its y-axis label); metrics sharing one share a panel.
    pub panel: &'static str,
    /// Shown as a percentage in the log line.
    pub percent: bool,
}

/// Which weights sample: the exponential moving average where the part keeps one (the
/// default), or the live weights being trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SampleWeights {
    #[default]
    Ema,
    Raw,
}

/// One training batch, with the step whose randomness it may use.
#[derive(Debug)]
pub struct Batch {
    /// Completed steps before this one (0-based); random draws of the step use this stream.
    pub step: u64,
    /// Images scaled as the config says, `(N, C, H, W)`.
    pub images: Tensor,
    /// Their classes, `(N,)` `i64`, for a conditional family; `None` for one without labels.
    pub labels: Option<Tensor>,
    /// The noise each image was generated from, `(N, latent_dim)`, when the run learns from a
    /// model's own pairs ([`crate::reflow`]); `None`: the family draws its noise.
    pub noise: Option<Tensor>,
}

/// Where and how a family is built.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext {
    pub device: Device,
    /// The run's seed: initial weights and per-step noise derive from it.
    pub seed: u64,
    pub batch_size: usize,
}

/// A trainable generative model; see the module docs.
pub trait Family {
    /// What [`Family::step`] returns, in order.
    fn metrics(&self) -> &'static [Metric];
    /// One training step; returns one value per [`Family::metrics`] entry.
    fn step(&mut self, batch: &Batch) -> Result<Vec<f64>, TrainError>;
    /// Images in inference mode for `noise` of shape `(N, latent_dim)`, without gradients;
    /// a conditional family takes one class per row in `labels` (`(N,)`, `i64`), an
    /// unconditional one `None`.
    fn generate(&self, noise: &Tensor, labels: Option<&Tensor>, weights: SampleWeights) -> Tensor;
    /// For a family that samples in steps: [`Family::generate`]'s states on the way, each
    /// with its noise level (1: pure noise, 0: the sample), as images in the data's range;
    /// `None` for a family that samples in one pass.
    fn sampling_path(
        &self,
        noise: &Tensor,
        labels: Option<&Tensor>,
        weights: SampleWeights,
    ) -> Option<Vec<(f64, Tensor)>> {
        let _ = (noise, labels, weights);
        None
    }
    fn latent_dim(&self) -> i64;
    /// Trains on labelled images and samples a requested class.
    fn conditional(&self) -> bool;
    /// The parts, in checkpoint order.
    fn parts(&self) -> Vec<&Part>;
    fn parts_mut(&mut self) -> Vec<&mut Part>;
    /// Brings derived EMA state (normalisation statistics) up to date, so what is saved is
    /// what sampling uses.
    fn sync_ema(&self);
    /// Fits what sampling derives from the training data rather than from training alone
    /// (a VAE's ex-post prior) to the current weights; `images` (scaled as trained on) and
    /// `labels` are the training set. The fit must be a function of the weights and the data
    /// only, so resumed runs sample what uninterrupted ones would. Most families derive
    /// nothing.
    fn fit_sampling(&self, images: &Tensor, labels: Option<&Tensor>) -> Result<(), TrainError> {
        let _ = (images, labels);
        Ok(())
    }
    /// A Keras-style summary per network.
    fn summaries(&self) -> Vec<Summary>;
    /// Steps after which the pattern of its updates repeats (a GAN's `n_critic`: D every
    /// step, G every n-th); what one step costs is averaged over this many.
    fn steps_per_cycle(&self) -> u32 {
        1
    }
    /// The family as a model of the data's likelihood (a VAE), if it is one.
    fn likelihood_model(&self) -> Option<&dyn LikelihoodModel> {
        None
    }
}

/// A family that bounds or estimates `log p(x)`, in nats per image. Where the family keeps a
/// moving average of its weights, that average is the model scored, encoded and decoded.
pub trait LikelihoodModel {
    /// Trains, and is scored, on binary images (Bernoulli draws of the intensities).
    fn binarized(&self) -> bool;
    /// The configured k of evaluations' [`LikelihoodModel::log_likelihood`].
    fn eval_importance_samples(&self) -> u32;
    /// For each image (scaled to [0, 1]; binary when binarized), `(N,)` each: the ELBO and
    /// the importance-weighted estimate of `log p(x)` with `k` samples per image (Burda et
    /// al.'s bound, which rises to `log p(x)` as k grows), its noise drawn from `seed`.
    /// Memory stays bounded whatever k.
    fn log_likelihood(
        &self,
        images: &Tensor,
        labels: Option<&Tensor>,
        k: u32,
        seed: u64,
    ) -> Result<(Tensor, Tensor), TrainError>;
    /// Mean and log-variance of q(z | x), `(N, latent_dim)` each.
    fn encode(&self, images: &Tensor, labels: Option<&Tensor>) -> (Tensor, Tensor);
    /// Bernoulli means of p(x | z): images in [0, 1].
    fn decode(&self, z: &Tensor, labels: Option<&Tensor>) -> Tensor;
}
