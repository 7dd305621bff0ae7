//! Encoders and decoders of variational autoencoders.
//!
//! An [`Encoder`] maps images (and, when conditional, their labels) to the mean and
//! log-variance of a diagonal Gaussian over the latent space; a [`Decoder`] maps latent
//! vectors (and labels) to one Bernoulli logit per pixel. Architectures are chosen by the
//! `kind` field of [`EncoderConfig`] and [`DecoderConfig`] (`mlp`, `conv`); the sizes they
//! share (latent size, image shape, conditioning) come from the model as a [`VaeShape`], so
//! encoder and decoder cannot disagree about them.

mod conv;
mod mlp;

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

pub use conv::{ConvDecoder, ConvEncoder, ConvVaeConfig};
pub use mlp::{MlpDecoder, MlpEncoder, MlpVaeConfig};

use crate::error::ModelError;
use crate::layers::LayerInfo;

/// What encoder and decoder agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaeShape {
    pub latent_dim: i64,
    /// Channels, rows, columns.
    pub image_shape: [i64; 3],
    /// Labels enter both networks.
    pub conditional: bool,
}

impl VaeShape {
    pub fn image_len(&self) -> i64 {
        self.image_shape.iter().product()
    }
}

/// Images `(N, C, H, W)` (and labels `(N,)`) to `(mean, log_variance)` of q(z | x), each
/// `(N, latent_dim)`.
pub trait Encoder: std::fmt::Debug {
    fn forward(&self, images: &Tensor, labels: Option<&Tensor>) -> (Tensor, Tensor);
    fn layers(&self) -> Vec<LayerInfo>;
}

/// Latent vectors `(N, latent_dim)` (and labels) to Bernoulli logits per pixel `(N, C, H, W)`.
pub trait Decoder: std::fmt::Debug {
    fn forward(&self, z: &Tensor, labels: Option<&Tensor>) -> Tensor;
    fn layers(&self) -> Vec<LayerInfo>;
}

/// An encoder architecture, tagged by `kind` in TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EncoderConfig {
    Mlp(MlpVaeConfig),
    Conv(ConvVaeConfig),
}

/// A decoder architecture, tagged by `kind` in TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DecoderConfig {
    Mlp(MlpVaeConfig),
    Conv(ConvVaeConfig),
}

impl EncoderConfig {
    /// The network under `p`, its weights drawn from `seed`.
    pub fn build(
        &self,
        p: &nn::Path,
        shape: VaeShape,
        seed: u64,
    ) -> Result<Box<dyn Encoder>, ModelError> {
        self.validate(shape)?;
        Ok(match self {
            EncoderConfig::Mlp(c) => Box::new(MlpEncoder::new(p, c, shape, seed)),
            EncoderConfig::Conv(c) => Box::new(ConvEncoder::new(p, c, shape, seed)),
        })
    }

    pub fn validate(&self, shape: VaeShape) -> Result<(), ModelError> {
        match self {
            EncoderConfig::Mlp(c) => c.validate("encoder.hidden"),
            EncoderConfig::Conv(c) => c.validate("encoder.channels", shape),
        }
    }
}

impl DecoderConfig {
    /// The network under `p`, its weights drawn from `seed`.
    pub fn build(
        &self,
        p: &nn::Path,
        shape: VaeShape,
        seed: u64,
    ) -> Result<Box<dyn Decoder>, ModelError> {
        self.validate(shape)?;
        Ok(match self {
            DecoderConfig::Mlp(c) => Box::new(MlpDecoder::new(p, c, shape, seed)),
            DecoderConfig::Conv(c) => Box::new(ConvDecoder::new(p, c, shape, seed)),
        })
    }

    pub fn validate(&self, shape: VaeShape) -> Result<(), ModelError> {
        match self {
            DecoderConfig::Mlp(c) => c.validate("decoder.hidden"),
            DecoderConfig::Conv(c) => c.validate("decoder.channels", shape),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Activation;
    use tch::nn::VarStore;
    use tch::{kind, Device, Kind};

    fn shape(conditional: bool) -> VaeShape {
        VaeShape {
            latent_dim: 3,
            image_shape: crate::MNIST_SHAPE,
            conditional,
        }
    }

    fn configs() -> Vec<(EncoderConfig, DecoderConfig)> {
        let mlp = MlpVaeConfig {
            hidden: vec![20, 10],
            activation: Activation::Tanh,
        };
        let conv = ConvVaeConfig {
            channels: vec![4, 8],
            activation: Activation::Relu,
        };
        vec![
            (EncoderConfig::Mlp(mlp.clone()), DecoderConfig::Mlp(mlp)),
            (EncoderConfig::Conv(conv.clone()), DecoderConfig::Conv(conv)),
        ]
    }

    /// Both architectures map images to latent Gaussians and latents to logit images, and a
    /// conditional network's outputs depend on the label.
    #[test]
    fn encoders_and_decoders_have_the_promised_shapes_and_use_labels() {
        for (encoder, decoder) in configs() {
            for conditional in [false, true] {
                let vs = VarStore::new(Device::Cpu);
                let shape = shape(conditional);
                let e = encoder.build(&(vs.root() / "encoder"), shape, 1).unwrap();
                let d = decoder.build(&(vs.root() / "decoder"), shape, 2).unwrap();
                let x = Tensor::rand([5, 1, 28, 28], kind::FLOAT_CPU);
                let labels = conditional.then(|| Tensor::from_slice(&[0i64, 1, 2, 3, 4]));
                let (mean, log_var) = e.forward(&x, labels.as_ref());
                assert_eq!(mean.size(), vec![5, 3]);
                assert_eq!(log_var.size(), vec![5, 3]);
                let logits = d.forward(&mean, labels.as_ref());
                assert_eq!(logits.size(), vec![5, 1, 28, 28]);
                if conditional {
                    let other = Tensor::from_slice(&[9i64, 9, 9, 9, 9]);
                    let (m2, _) = e.forward(&x, Some(&other));
                    let l2 = d.forward(&mean, Some(&other));
                    assert!((m2 - &mean).abs().sum(Kind::Float).double_value(&[]) > 0.0);
                    assert!((l2 - &logits).abs().sum(Kind::Float).double_value(&[]) > 0.0);
                }
                assert!(!e.layers().is_empty() && !d.layers().is_empty());
            }
        }
    }

    #[test]
    fn configs_carry_their_kind_and_bad_sizes_are_named() {
        for (encoder, decoder) in configs() {
            let text = toml::to_string(&encoder).unwrap();
            assert_eq!(toml::from_str::<EncoderConfig>(&text).unwrap(), encoder);
            let text = toml::to_string(&decoder).unwrap();
            assert_eq!(toml::from_str::<DecoderConfig>(&text).unwrap(), decoder);
        }
        let too_deep = EncoderConfig::Conv(ConvVaeConfig {
            channels: vec![4, 8, 16],
            activation: Activation::Relu,
        });
        let err = too_deep.validate(shape(false)).unwrap_err().to_string();
        assert!(err.contains("encoder.channels"), "{err}");
        let empty = DecoderConfig::Mlp(MlpVaeConfig {
            hidden: vec![],
            activation: Activation::Relu,
        });
        let err = empty.validate(shape(false)).unwrap_err().to_string();
        assert!(err.contains("decoder.hidden"), "{err}");
    }
}
