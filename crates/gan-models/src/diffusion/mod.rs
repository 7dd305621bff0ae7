//! Denoisers of diffusion and flow models: networks that take a noised image and its noise
//! level (and, when conditional, a label) and return an image-shaped prediction (the noise,
//! or a velocity; what it means is the training objective's business, not the network's).
//! Architectures are chosen by the `kind` field of [`DenoiserConfig`].

mod mlp;
mod time;

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

pub use mlp::{MlpDenoiser, MlpDenoiserConfig, TimeInput};
pub use time::sinusoidal_features;

use crate::error::ModelError;
use crate::layers::LayerInfo;

/// The label a conditional denoiser reads as "no label" (classifier-free guidance trains on
/// it and samples the unconditional prediction with it): one past the classes.
pub const NO_LABEL: i64 = crate::CLASSES;

/// What the denoiser is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenoiserShape {
    /// Channels, rows, columns.
    pub image_shape: [i64; 3],
    /// Labels (`0..CLASSES`, or [`NO_LABEL`]) enter the network.
    pub conditional: bool,
}

impl DenoiserShape {
    pub fn image_len(&self) -> i64 {
        self.image_shape.iter().product()
    }
}

/// Images `(N, C, H, W)` at noise levels `t` (`(N,)`, in [0, 1]) (and labels: classes `(N,)`
/// with [`NO_LABEL`] for none, or weights `(N, K)` over the first K of those) to a prediction
/// of the same shape as the images.
pub trait Denoiser: std::fmt::Debug {
    fn forward(&self, images: &Tensor, t: &Tensor, labels: Option<&Tensor>) -> Tensor;
    fn layers(&self) -> Vec<LayerInfo>;
}

/// A denoiser architecture, tagged by `kind` in TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DenoiserConfig {
    Mlp(MlpDenoiserConfig),
}

impl DenoiserConfig {
    /// The network under `p`, its weights drawn from `seed`.
    pub fn build(
        &self,
        p: &nn::Path,
        shape: DenoiserShape,
        seed: u64,
    ) -> Result<Box<dyn Denoiser>, ModelError> {
        self.validate()?;
        Ok(match self {
            DenoiserConfig::Mlp(c) => Box::new(MlpDenoiser::new(p, c, shape, seed)),
        })
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        match self {
            DenoiserConfig::Mlp(c) => c.validate(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::VarStore;
    use tch::{kind, Device, Kind};

    fn config(time_input: TimeInput) -> DenoiserConfig {
        DenoiserConfig::Mlp(MlpDenoiserConfig {
            width: 32,
            blocks: 2,
            time_features: 16,
            time_input,
        })
    }

    fn differs(a: &Tensor, b: &Tensor) -> bool {
        (a - b).abs().sum(Kind::Float).double_value(&[]) > 0.0
    }

    /// The prediction has the image's shape and depends on the image, the noise level and,
    /// when conditional, the label.
    #[test]
    fn denoisers_read_image_time_and_label() {
        for time_input in [TimeInput::Add, TimeInput::Film] {
            for conditional in [false, true] {
                let vs = VarStore::new(Device::Cpu);
                let shape = DenoiserShape {
                    image_shape: crate::MNIST_SHAPE,
                    conditional,
                };
                let net = config(time_input).build(&vs.root(), shape, 1).unwrap();
                let x = Tensor::randn([4, 1, 28, 28], kind::FLOAT_CPU);
                let t = Tensor::from_slice(&[0.1f32, 0.4, 0.7, 1.0]);
                let labels = conditional.then(|| Tensor::from_slice(&[0i64, 3, 9, NO_LABEL]));
                let out = net.forward(&x, &t, labels.as_ref());
                assert_eq!(out.size(), vec![4, 1, 28, 28]);
                assert!(differs(
                    &out,
                    &net.forward(&(&x * 0.5), &t, labels.as_ref())
                ));
                assert!(differs(
                    &out,
                    &net.forward(&x, &(&t * 0.5), labels.as_ref())
                ));
                if conditional {
                    let other = Tensor::from_slice(&[1i64, 1, 1, 1]);
                    assert!(differs(&out, &net.forward(&x, &t, Some(&other))));
                }
                assert!(!net.layers().is_empty());
            }
        }
    }

    #[test]
    fn configs_carry_their_kind_and_bad_sizes_are_named() {
        let config = config(TimeInput::Film);
        let text = toml::to_string(&config).unwrap();
        assert!(text.contains("kind = \"mlp\""), "{text}");
        assert_eq!(toml::from_str::<DenoiserConfig>(&text).unwrap(), config);
        let bad = DenoiserConfig::Mlp(MlpDenoiserConfig {
            width: 0,
            blocks: 2,
            time_features: 16,
            time_input: TimeInput::Add,
        });
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("denoiser.width"), "{err}");
        let odd = DenoiserConfig::Mlp(MlpDenoiserConfig {
            width: 8,
            blocks: 1,
            time_features: 7,
            time_input: TimeInput::Add,
        });
        let err = odd.validate().unwrap_err().to_string();
        assert!(err.contains("denoiser.time_features"), "{err}");
    }
}
