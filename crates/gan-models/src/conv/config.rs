//! The convolutional (DCGAN) architecture as plain data.

use serde::{Deserialize, Serialize};

use crate::conditioning::{LabelInput, CLASSES};
use crate::config::{Activation, Norm, OutputActivation, MNIST_SHAPE};
use crate::error::ModelError;
use crate::layers::{check_image_shape, check_widths};

/// A DCGAN generator: the noise projected to a small feature map, then transposed
/// convolutions that double it until it is the image.
///
/// `channels[0]` is the projected map's depth; each later entry is the output depth of one
/// transposed convolution, and a last one makes the image's channels. With `[128, 64]` on
/// MNIST: 128×7×7 → 64×14×14 → 1×28×28.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvGeneratorConfig {
    pub latent_dim: i64,
    pub channels: Vec<i64>,
    pub activation: Activation,
    /// After every layer but the output one.
    pub norm: Norm,
    pub output: OutputActivation,
    /// Channels, rows, columns.
    pub image_shape: [i64; 3],
    /// Takes a class label beside the noise (see [`crate::conditioning`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub conditional: bool,
}

/// What follows the discriminator's strided convolutions after the first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum CriticNorm {
    None,
    /// Batch statistics (DCGAN). Not for a gradient penalty, whose per-sample gradients
    /// batch statistics would mix.
    BatchNorm {
        momentum: f64,
        eps: f64,
    },
    /// Per-sample statistics over channels, rows and columns: WGAN-GP's replacement.
    LayerNorm {
        eps: f64,
    },
}

/// A DCGAN discriminator: strided convolutions that halve the image, then one dense logit.
/// With `[64, 128]` on MNIST: 1×28×28 → 64×14×14 → 128×7×7 → 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvDiscriminatorConfig {
    /// Channels, rows, columns.
    pub image_shape: [i64; 3],
    pub channels: Vec<i64>,
    pub activation: Activation,
    /// After every convolution but the first (DCGAN leaves the input layer unnormalised).
    pub norm: CriticNorm,
    /// Divides every weight by its largest singular value (one power iteration per step).
    #[serde(default, skip_serializing_if = "is_false")]
    pub spectral_norm: bool,
    /// Takes the class label of each image (see [`crate::conditioning`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub conditional: bool,
    /// How a conditional discriminator takes its labels: one-hot planes beside the image's
    /// channels (`concat`), or a per-class vector against the last features (`projection`).
    #[serde(default, skip_serializing_if = "LabelInput::is_concat")]
    pub label_input: LabelInput,
}

fn is_false(value: &bool) -> bool {
    !value
}

impl ConvGeneratorConfig {
    /// DCGAN for MNIST: 100 → 128×7×7 → 64×14×14 → 1×28×28, ReLU and BatchNorm (PyTorch's
    /// defaults), tanh.
    pub fn dcgan() -> Self {
        ConvGeneratorConfig {
            latent_dim: 100,
            channels: vec![128, 64],
            activation: Activation::Relu,
            norm: Norm::BatchNorm {
                momentum: 0.1,
                eps: 1e-5,
            },
            output: OutputActivation::Tanh,
            image_shape: MNIST_SHAPE,
            conditional: false,
        }
    }

    /// Width of the projection's input: the noise, and the one-hot label when conditional.
    pub fn input_len(&self) -> i64 {
        self.latent_dim + if self.conditional { CLASSES } else { 0 }
    }

    /// Channels, rows and columns of the projected map.
    pub fn projected_shape(&self) -> [i64; 3] {
        let factor = 1i64 << self.channels.len();
        let [_, rows, cols] = self.image_shape;
        [self.channels[0], rows / factor, cols / factor]
    }

    /// Checks every field; the error names it.
    pub fn validate(&self) -> Result<(), ModelError> {
        check_widths("generator.latent_dim", &[self.latent_dim])?;
        check_widths("generator.channels", &self.channels)?;
        check_image_shape("generator.image_shape", &self.image_shape)?;
        check_halvings("generator.channels", self.channels.len(), self.image_shape)?;
        self.activation.validate()?;
        self.norm.validate("generator.norm")
    }
}

impl ConvDiscriminatorConfig {
    /// DCGAN for MNIST: 1×28×28 → 64×14×14 → 128×7×7 → 1, LeakyReLU(0.2), BatchNorm on the
    /// second convolution.
    pub fn dcgan() -> Self {
        ConvDiscriminatorConfig {
            image_shape: MNIST_SHAPE,
            channels: vec![64, 128],
            activation: Activation::LeakyRelu { slope: 0.2 },
            norm: CriticNorm::BatchNorm {
                momentum: 0.1,
                eps: 1e-5,
            },
            spectral_norm: false,
            conditional: false,
            label_input: LabelInput::Concat,
        }
    }

    /// Whether one-hot label planes go in beside the image's channels.
    pub fn concatenates_labels(&self) -> bool {
        self.conditional && self.label_input == LabelInput::Concat
    }

    /// Whether a learned vector per class scores the last features.
    pub fn projects_labels(&self) -> bool {
        self.conditional && self.label_input == LabelInput::Projection
    }

    /// Channels into the first convolution.
    pub fn input_channels(&self) -> i64 {
        self.image_shape[0]
            + if self.concatenates_labels() {
                CLASSES
            } else {
                0
            }
    }

    /// Length of the flattened last feature map, the dense head's input.
    pub fn features(&self) -> i64 {
        let factor = 1i64 << self.channels.len();
        let [_, rows, cols] = self.image_shape;
        self.channels.last().copied().unwrap_or(1) * (rows / factor) * (cols / factor)
    }

    /// Whether scores depend on the other images of the batch.
    pub fn uses_batch_statistics(&self) -> bool {
        matches!(self.norm, CriticNorm::BatchNorm { .. })
    }

    /// Checks every field; the error names it.
    pub fn validate(&self) -> Result<(), ModelError> {
        check_widths("discriminator.channels", &self.channels)?;
        check_image_shape("discriminator.image_shape", &self.image_shape)?;
        check_halvings(
            "discriminator.channels",
            self.channels.len(),
            self.image_shape,
        )?;
        self.activation.validate()?;
        match self.norm {
            CriticNorm::None => Ok(()),
            CriticNorm::BatchNorm { momentum, eps } => {
                Norm::BatchNorm { momentum, eps }.validate("discriminator.norm")
            }
            CriticNorm::LayerNorm { eps } if !(eps > 0.0 && eps.is_finite()) => {
                Err(ModelError::InvalidConfig {
                    field: "discriminator.norm.eps",
                    value: eps.to_string(),
                    why: "must be positive",
                })
            }
            CriticNorm::LayerNorm { .. } => Ok(()),
        }
    }
}

/// Each layer halves (or doubles) rows and columns: they must divide by `2^layers`.
fn check_halvings(field: &'static str, layers: usize, shape: [i64; 3]) -> Result<(), ModelError> {
    let [_, rows, cols] = shape;
    let factor = 1i64 << layers.min(16);
    if layers > 16 || rows % factor != 0 || cols % factor != 0 {
        return Err(ModelError::InvalidConfig {
            field,
            value: format!("{layers} layers for {rows}×{cols} images"),
            why: "each layer halves the image: rows and columns must divide by 2^layers",
        });
    }
    Ok(())
}
