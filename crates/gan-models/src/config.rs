//! Settings shared by every architecture: nonlinearities, normalisation, output range,
//! initialisation. Architecture configs (`mlp::MlpGeneratorConfig`, …) are built from them.

use serde::{Deserialize, Serialize};

/// A nonlinearity between layers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Activation {
    Relu,
    Tanh,
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

/// MNIST's image shape.
pub const MNIST_SHAPE: [i64; 3] = [1, 28, 28];
