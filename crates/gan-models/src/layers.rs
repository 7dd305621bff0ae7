//! Building blocks shared by the generator and the discriminator.

use gan_data::DeviceRng;
use tch::{nn, Tensor};

use crate::config::{Activation, Norm, WeightInit};
use crate::error::ModelError;
use crate::tape::Dense;

/// A dense layer initialised as `init` says, from `rng` streams `2·layer` (weights) and
/// `2·layer + 1` (biases). Drawing from our own addressed generator rather than libtorch's
/// global one makes initialisation reproducible even when other threads use libtorch.
pub(crate) fn dense(
    p: nn::Path,
    fan_in: i64,
    fan_out: i64,
    init: WeightInit,
    rng: &DeviceRng,
    layer: u64,
) -> Dense {
    let device = p.device();
    let symmetric = |stream: u64, shape: &[i64], bound: f64| -> Tensor {
        let u = rng
            .uniform(stream, shape, device)
            .expect("uniform draw on the var store's device");
        (u * 2.0 - 1.0) * bound
    };
    let (ws, bs) = match init {
        WeightInit::GlorotUniform => {
            let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
            let ws = symmetric(2 * layer, &[fan_out, fan_in], limit);
            (ws, Tensor::zeros([fan_out], (tch::Kind::Float, device)))
        }
        WeightInit::TorchDefault => {
            // kaiming_uniform(a = √5) and PyTorch's bias rule both give ±1/√fan_in.
            let bound = 1.0 / (fan_in as f64).sqrt();
            let ws = symmetric(2 * layer, &[fan_out, fan_in], bound);
            (ws, symmetric(2 * layer + 1, &[fan_out], bound))
        }
    };
    Dense::new(
        p.var_copy("weight", &ws),
        p.var_copy("bias", &bs),
        p.path("weight"),
        p.path("bias"),
    )
}

/// LeakyReLU with a slope (tch's `leaky_relu` has none): the op's own backward kernel maps
/// `xs` to `xs` where `xs > 0` and to `slope · xs` elsewhere, and autograd differentiates it
/// in `xs` with the same kernel again. With the mask's input detached, no gradient forms for
/// it, so a step costs one vectorised kernel each way, and the gradient penalty's double
/// backward stays exact (the second derivative is zero). PReLU with a fixed slope gives the
/// same values but its backward also reduces a slope gradient in a scalar loop.
fn leaky_relu(xs: &Tensor, slope: f64) -> Tensor {
    xs.detach().leaky_relu_backward(xs, slope, false)
}

impl Activation {
    pub fn apply(self, xs: &Tensor) -> Tensor {
        match self {
            Activation::Relu => xs.relu(),
            Activation::Tanh => xs.tanh(),
            Activation::LeakyRelu { slope } => leaky_relu(xs, slope),
        }
    }

    /// The slope for negative inputs of a (leaky) ReLU; `None` for other activations.
    pub fn slope(self) -> Option<f64> {
        match self {
            Activation::Relu => Some(0.0),
            Activation::LeakyRelu { slope } => Some(slope),
            Activation::Tanh => None,
        }
    }

    pub fn name(self) -> String {
        match self {
            Activation::Relu => "ReLU".to_owned(),
            Activation::Tanh => "Tanh".to_owned(),
            Activation::LeakyRelu { slope } => format!("LeakyReLU({slope})"),
        }
    }

    pub(crate) fn validate(self) -> Result<(), ModelError> {
        match self {
            Activation::LeakyRelu { slope }
                if !slope.is_finite() || !(0.0..1.0).contains(&slope) =>
            {
                Err(ModelError::InvalidConfig {
                    field: "activation.slope",
                    value: slope.to_string(),
                    why: "must be in [0, 1)",
                })
            }
            _ => Ok(()),
        }
    }
}

/// BatchNorm as Keras and PyTorch start it: γ = 1, β = 0 (tch's default γ is random).
pub(crate) fn batch_norm_config(momentum: f64, eps: f64) -> nn::BatchNormConfig {
    nn::BatchNormConfig {
        momentum,
        eps,
        ws_init: nn::Init::Const(1.0),
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    }
}

/// Sets `norm`'s running statistics to those of `xs` over `dims` (every dimension but the
/// channels'), with the unbiased variance BatchNorm keeps, and normalises `xs` with them.
/// Call without gradients.
pub(crate) fn adopt_batch_statistics(norm: &nn::BatchNorm, xs: &Tensor, dims: &[i64]) -> Tensor {
    let (batch_var, batch_mean) = xs.var_mean_dim(dims, true, false);
    let (mut mean, mut var) = (
        norm.running_mean.shallow_clone(),
        norm.running_var.shallow_clone(),
    );
    mean.copy_(&batch_mean.to_kind(tch::Kind::Float));
    var.copy_(&batch_var.to_kind(tch::Kind::Float));
    nn::ModuleT::forward_t(norm, xs, false)
}

impl Norm {
    /// Checks the settings; the error names `field`.
    pub(crate) fn validate(self, field: &'static str) -> Result<(), ModelError> {
        let Norm::BatchNorm { momentum, eps } = self else {
            return Ok(());
        };
        if !(momentum > 0.0 && momentum <= 1.0) {
            return Err(ModelError::InvalidConfig {
                field,
                value: format!("momentum = {momentum}"),
                why: "momentum must be in (0, 1] (PyTorch convention: Keras 0.99 is 0.01)",
            });
        }
        if !(eps > 0.0 && eps.is_finite()) {
            return Err(ModelError::InvalidConfig {
                field,
                value: format!("eps = {eps}"),
                why: "eps must be positive",
            });
        }
        Ok(())
    }
}

/// Largest layer width and latent size accepted: far beyond useful MLP sizes, small enough
/// that no accepted config asks libtorch for an impossible allocation.
pub const MAX_WIDTH: i64 = 16_384;
/// Largest number of pixels per image.
pub const MAX_IMAGE_LEN: i64 = 1 << 16;

pub(crate) fn check_widths(field: &'static str, widths: &[i64]) -> Result<(), ModelError> {
    if widths.is_empty() {
        return Err(ModelError::InvalidConfig {
            field,
            value: "[]".to_owned(),
            why: "needs at least one size",
        });
    }
    if let Some(w) = widths.iter().find(|&&w| !(1..=MAX_WIDTH).contains(&w)) {
        return Err(ModelError::InvalidConfig {
            field,
            value: w.to_string(),
            why: "every size must be in 1..=16384",
        });
    }
    Ok(())
}

pub(crate) fn check_image_shape(field: &'static str, shape: &[i64; 3]) -> Result<(), ModelError> {
    check_widths(field, shape)?;
    if shape.iter().product::<i64>() > MAX_IMAGE_LEN {
        return Err(ModelError::InvalidConfig {
            field,
            value: format!("{shape:?}"),
            why: "at most 65,536 values per image",
        });
    }
    Ok(())
}

/// One row of a model summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// Name in the var store (`fc1`), also the prefix of its parameters.
    pub name: String,
    /// Kind of layer, as Keras would print it (`Dense`, `BatchNormalization`, …).
    pub kind: String,
    /// Output shape with `None` for the batch dimension.
    pub output_shape: Vec<i64>,
}

impl LayerInfo {
    pub(crate) fn new(name: impl Into<String>, kind: impl Into<String>, shape: &[i64]) -> Self {
        LayerInfo {
            name: name.into(),
            kind: kind.into(),
            output_shape: shape.to_vec(),
        }
    }
}
