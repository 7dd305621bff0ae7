//! Network descriptions as plain data (serde), so variants are configs, not copies of code.

use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::layers::{check_image_shape, check_widths};

/// A nonlinearity between layers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Activation {
    Relu,
    /// `max(x, slope·x)`.
    LeakyRelu {
        slope: f64,
    },
}

/// What follows each hidden activation of the generator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Norm {
    None,
    /// Batch normalisation. `momentum` is PyTorch's (weight of the new batch statistic in the
    /// running average): Keras' momentum 0.99 is 0.01 here.
    BatchNorm {
        momentum: f64,
        eps: f64,
    },
}

/// The generator's last nonlinearity, which fixes the range of its images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputActivation {
    /// `[0, 1]`, for data scaled by `/255`.
    Sigmoid,
    /// `[-1, 1]`, for data scaled to `[-1, 1]`.
    Tanh,
}

/// How dense layers are initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeightInit {
    /// Keras' default: weights uniform in ±√(6 / (fan_in + fan_out)), zero biases.
    GlorotUniform,
    /// PyTorch's `nn.Linear` default: Kaiming-uniform weights (a = √5), biases uniform in
    /// ±1/√fan_in.
    TorchDefault,
}

/// An MLP generator: latent vector → hidden layers → image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorConfig {
    pub latent_dim: i64,
    pub hidden: Vec<i64>,
    pub activation: Activation,
    pub norm: Norm,
    pub output: OutputActivation,
    /// Channels, rows, columns.
    pub image_shape: [i64; 3],
    pub init: WeightInit,
}

/// An MLP discriminator: image → hidden layers → one logit (probability of "real" after a
/// sigmoid, which the loss applies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscriminatorConfig {
    /// Channels, rows, columns.
    pub image_shape: [i64; 3],
    pub hidden: Vec<i64>,
    pub activation: Activation,
    pub init: WeightInit,
}

/// MNIST's image shape.
pub const MNIST_SHAPE: [i64; 3] = [1, 28, 28];

impl GeneratorConfig {
    /// The tutorial's generator: 100 → 256 → 512 → 1024 → 784, ReLU then BatchNorm (Keras
    /// momentum 0.99, epsilon 1e-3), sigmoid, Glorot-uniform weights.
    pub fn tutorial() -> Self {
        GeneratorConfig {
            latent_dim: 100,
            hidden: vec![256, 512, 1024],
            activation: Activation::Relu,
            norm: Norm::BatchNorm {
                momentum: 0.01,
                eps: 1e-3,
            },
            output: OutputActivation::Sigmoid,
            image_shape: MNIST_SHAPE,
            init: WeightInit::GlorotUniform,
        }
    }

    /// The tutorial's sizes with a tanh output (data in `[-1, 1]`).
    pub fn mlp() -> Self {
        GeneratorConfig {
            output: OutputActivation::Tanh,
            ..Self::tutorial()
        }
    }

    pub fn image_len(&self) -> i64 {
        self.image_shape.iter().product()
    }

    /// Checks every field; the error names it. Building a [`crate::Generator`] does this too.
    pub fn validate(&self) -> Result<(), ModelError> {
        check_widths("generator.latent_dim", &[self.latent_dim])?;
        check_widths("generator.hidden", &self.hidden)?;
        check_image_shape("generator.image_shape", &self.image_shape)?;
        self.activation.validate()?;
        if let Norm::BatchNorm { momentum, eps } = self.norm {
            if !(momentum > 0.0 && momentum <= 1.0) {
                return Err(ModelError::InvalidConfig {
                    field: "generator.norm.momentum",
                    value: momentum.to_string(),
                    why: "must be in (0, 1] (PyTorch convention: Keras 0.99 is 0.01)",
                });
            }
            if !(eps > 0.0 && eps.is_finite()) {
                return Err(ModelError::InvalidConfig {
                    field: "generator.norm.eps",
                    value: eps.to_string(),
                    why: "must be positive",
                });
            }
        }
        Ok(())
    }
}

impl DiscriminatorConfig {
    /// The tutorial's discriminator: 784 → 512 → 256 → 1, ReLU, Glorot-uniform weights.
    pub fn tutorial() -> Self {
        DiscriminatorConfig {
            image_shape: MNIST_SHAPE,
            hidden: vec![512, 256],
            activation: Activation::Relu,
            init: WeightInit::GlorotUniform,
        }
    }

    /// The tutorial's sizes with LeakyReLU(0.2), as GAN practice recommends.
    pub fn mlp() -> Self {
        DiscriminatorConfig {
            activation: Activation::LeakyRelu { slope: 0.2 },
            ..Self::tutorial()
        }
    }

    pub fn image_len(&self) -> i64 {
        self.image_shape.iter().product()
    }

    /// Checks every field; the error names it. Building a [`crate::Discriminator`] does this
    /// too.
    pub fn validate(&self) -> Result<(), ModelError> {
        check_widths("discriminator.hidden", &self.hidden)?;
        check_image_shape("discriminator.image_shape", &self.image_shape)?;
        self.activation.validate()
    }
}
