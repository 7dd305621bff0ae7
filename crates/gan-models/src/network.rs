//! What every architecture provides, so families and tools never name a concrete network.
//!
//! A generator maps noise (and optionally class labels) to images; a discriminator maps
//! images (and optionally labels) to one score per image. Which architecture is built is
//! [`crate::architecture`]'s to say.

use tch::Tensor;

use crate::layers::LayerInfo;

/// Which normalisation statistics a forward pass uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The batch's own, also updating the running ones: a training step.
    Training,
    /// The running ones: sampling.
    Inference,
}

impl Mode {
    pub fn is_training(self) -> bool {
        self == Mode::Training
    }
}

/// Noise `(N, latent_dim)` (and labels `(N,)`, for conditional networks) to images
/// `(N, C, H, W)`.
pub trait Generator: std::fmt::Debug {
    /// Unconditional networks take no labels: passing some is a programming error.
    fn forward(&self, z: &Tensor, labels: Option<&Tensor>, mode: Mode) -> Tensor;
    /// Sets every normalisation layer's running statistics to the population statistics of
    /// its input over `z` (the network's own weights, no gradient), so inference-mode output
    /// matches weights that were never trained in training mode (an EMA copy).
    fn estimate_normalization(&self, z: &Tensor, labels: Option<&Tensor>);
    /// How many noise vectors [`Generator::estimate_normalization`] needs for statistics
    /// whose sampling error does not show in the samples. A convolution's statistics average
    /// over every row and column of a channel as well, so a few thousand images suffice.
    fn normalization_samples(&self) -> i64 {
        4096
    }
    fn latent_dim(&self) -> i64;
    /// Takes class labels (`0..CLASSES`) with its noise.
    fn conditional(&self) -> bool;
    /// Channels, rows, columns.
    fn image_shape(&self) -> [i64; 3];
    /// Layers in order, for summaries.
    fn layers(&self) -> Vec<LayerInfo>;
}

/// Images `(N, C, H, W)` (and labels) to one score (logit) per image, `(N, 1)`.
pub trait Discriminator: std::fmt::Debug {
    fn forward(&self, images: &Tensor, labels: Option<&Tensor>) -> Tensor;
    /// Advances every spectral norm's estimate by one power iteration; families call it once
    /// per training step, before the step's first forward pass. Nothing without one.
    fn power_iteration(&self) {}
    /// Takes the class label of each image.
    fn conditional(&self) -> bool;
    fn layers(&self) -> Vec<LayerInfo>;
}
