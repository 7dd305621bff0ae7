//! The MLP architecture as plain data (serde): sizes, nonlinearities, initialisation.

use serde::{Deserialize, Serialize};

use crate::conditioning::{LabelInput, CLASSES};
use crate::config::{Activation, Norm, OutputActivation, WeightInit, MNIST_SHAPE};
use crate::error::ModelError;
use crate::layers::{check_image_shape, check_widths};

/// An MLP generator: latent vector → hidden layers → image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpGeneratorConfig {
    pub latent_dim: i64,
    pub hidden: Vec<i64>,
    pub activation: Activation,
    pub norm: Norm,
    pub output: OutputActivation,
    /// Channels, rows, columns.
    pub image_shape: [i64; 3],
    pub init: WeightInit,
    /// Takes a class label beside the noise (see [`crate::conditioning`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub conditional: bool,
}

/// An MLP discriminator: image → hidden layers → one logit (probability of "real" after a
/// sigmoid, which the loss applies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpDiscriminatorConfig {
    /// Channels, rows, columns.
    pub image_shape: [i64; 3],
    pub hidden: Vec<i64>,
    pub activation: Activation,
    pub init: WeightInit,
    /// Takes the class label of each image (see [`crate::conditioning`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub conditional: bool,
    /// How a conditional discriminator takes its labels.
    #[serde(default, skip_serializing_if = "LabelInput::is_concat")]
    pub label_input: LabelInput,
}

fn is_false(value: &bool) -> bool {
    !value
}

impl MlpGeneratorConfig {
    /// The tutorial's generator: 100 → 256 → 512 → 1024 → 784, ReLU then BatchNorm (Keras
    /// momentum 0.99, epsilon 1e-3), sigmoid, Glorot-uniform weights.
    pub fn tutorial() -> Self {
        MlpGeneratorConfig {
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
            conditional: false,
        }
    }

    /// The tutorial's sizes with a tanh output (data in `[-1, 1]`).
    pub fn mlp() -> Self {
        MlpGeneratorConfig {
            output: OutputActivation::Tanh,
            ..Self::tutorial()
        }
    }

    pub fn image_len(&self) -> i64 {
        self.image_shape.iter().product()
    }

    /// Width of the first layer's input: the noise, and the one-hot label when conditional.
    pub fn input_len(&self) -> i64 {
        self.latent_dim + if self.conditional { CLASSES } else { 0 }
    }

    /// Whether the network runs as a [`crate::manual::Chain`] (on the CPU): unconditional,
    /// with a (leaky) ReLU.
    pub fn runs_as_chain(&self) -> bool {
        !self.conditional && self.activation.slope().is_some()
    }

    /// Checks every field; the error names it. Building a [`super::MlpGenerator`] does this too.
    pub fn validate(&self) -> Result<(), ModelError> {
        check_widths("generator.latent_dim", &[self.latent_dim])?;
        check_widths("generator.hidden", &self.hidden)?;
        check_image_shape("generator.image_shape", &self.image_shape)?;
        self.activation.validate()?;
        self.norm.validate("generator.norm")
    }
}

impl MlpDiscriminatorConfig {
    /// The tutorial's discriminator: 784 → 512 → 256 → 1, ReLU, Glorot-uniform weights.
    pub fn tutorial() -> Self {
        MlpDiscriminatorConfig {
            image_shape: MNIST_SHAPE,
            hidden: vec![512, 256],
            activation: Activation::Relu,
            init: WeightInit::GlorotUniform,
            conditional: false,
            label_input: LabelInput::Concat,
        }
    }

    /// The tutorial's sizes with LeakyReLU(0.2), as GAN practice recommends.
    pub fn mlp() -> Self {
        MlpDiscriminatorConfig {
            activation: Activation::LeakyRelu { slope: 0.2 },
            ..Self::tutorial()
        }
    }

    pub fn image_len(&self) -> i64 {
        self.image_shape.iter().product()
    }

    /// Whether the one-hot label goes in beside the flattened image.
    pub fn concatenates_labels(&self) -> bool {
        self.conditional && self.label_input == LabelInput::Concat
    }

    /// Whether a learned vector per class scores the last hidden features.
    pub fn projects_labels(&self) -> bool {
        self.conditional && self.label_input == LabelInput::Projection
    }

    /// Whether the network runs as a [`crate::manual::Chain`] (on the CPU): unconditional,
    /// with a (leaky) ReLU.
    pub fn runs_as_chain(&self) -> bool {
        !self.conditional && self.activation.slope().is_some()
    }

    /// Width of the first layer's input: the flattened image, and the one-hot label when
    /// conditional by concatenation.
    pub fn input_len(&self) -> i64 {
        self.image_len()
            + if self.concatenates_labels() {
                CLASSES
            } else {
                0
            }
    }

    /// Checks every field; the error names it. Building a [`super::MlpDiscriminator`] does this
    /// too.
    pub fn validate(&self) -> Result<(), ModelError> {
        check_widths("discriminator.hidden", &self.hidden)?;
        check_image_shape("discriminator.image_shape", &self.image_shape)?;
        self.activation.validate()
    }
}
