//! The MLP discriminator: images in, one logit per image out.

use gan_data::DeviceRng;
use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::config::DiscriminatorConfig;
use crate::error::ModelError;
use crate::layers::{dense, ActivationLayer, LayerInfo};
use crate::matmul::{MatmulChoice, MatmulKernel};
use crate::tape::{Dense, Tape};

/// Maps images `(N, C, H, W)` to logits `(N, 1)`; a sigmoid of the logit is the probability
/// the image is real. The loss applies that sigmoid itself, in a numerically stable way.
#[derive(Debug)]
pub struct Discriminator {
    config: DiscriminatorConfig,
    layers: Vec<Dense>,
    activation: ActivationLayer,
    kernel: MatmulKernel,
}

impl Discriminator {
    /// Builds the network under `p` (parameters `fc1.weight`, …), its weights drawn from
    /// `seed`, multiplying with [`MatmulChoice::Auto`]'s kernel.
    pub fn new(p: &nn::Path, config: &DiscriminatorConfig, seed: u64) -> Result<Self, ModelError> {
        config.validate()?;
        let rng = DeviceRng::new(seed);
        let mut fan_in = config.image_len();
        let mut layers = Vec::with_capacity(config.hidden.len() + 1);
        for (i, &width) in config.hidden.iter().chain(std::iter::once(&1)).enumerate() {
            let name = p / format!("fc{}", i + 1);
            layers.push(dense(name, fan_in, width, config.init, &rng, i as u64));
            fan_in = width;
        }
        Ok(Discriminator {
            config: config.clone(),
            layers,
            activation: ActivationLayer::new(config.activation, p.device()),
            kernel: MatmulChoice::Auto.resolve(p.device())?,
        })
    }

    pub fn config(&self) -> &DiscriminatorConfig {
        &self.config
    }

    /// The kernel dense layers multiply with.
    pub fn matmul(&self) -> MatmulKernel {
        self.kernel
    }

    /// Switches the dense layers to `kernel`; see [`MatmulChoice::resolve`] for where each
    /// can run.
    pub fn set_matmul(&mut self, kernel: MatmulKernel) {
        self.kernel = kernel;
    }

    /// [`ModuleT::forward_t`] with the dense layers on `tape`, for [`Tape::gradients`].
    pub fn forward_taped(&self, images: &Tensor, tape: &Tape) -> Tensor {
        self.forward_with(images, Some(tape))
    }

    fn forward_with(&self, images: &Tensor, tape: Option<&Tape>) -> Tensor {
        let mut xs = images.flatten(1, -1);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            xs = layer.forward_on(&xs, self.kernel, tape);
            if i < last {
                xs = self.activation.apply(&xs);
            }
        }
        xs
    }

    /// Layers in order, for summaries.
    pub fn layers(&self) -> Vec<LayerInfo> {
        let c = &self.config;
        let mut rows = vec![LayerInfo::new("flatten", "Flatten", &[c.image_len()])];
        for (i, &width) in c.hidden.iter().enumerate() {
            let n = i + 1;
            rows.push(LayerInfo::new(format!("fc{n}"), "Dense", &[width]));
            rows.push(LayerInfo::new(
                format!("act{n}"),
                c.activation.name(),
                &[width],
            ));
        }
        rows.push(LayerInfo::new(
            format!("fc{}", c.hidden.len() + 1),
            "Dense",
            &[1],
        ));
        rows.push(LayerInfo::new("output", "Sigmoid (in the loss)", &[1]));
        rows
    }
}

impl ModuleT for Discriminator {
    fn forward_t(&self, images: &Tensor, _train: bool) -> Tensor {
        self.forward_with(images, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Activation;
    use tch::{kind, nn::VarStore, Device};

    #[test]
    fn one_logit_per_image() {
        let vs = VarStore::new(Device::Cpu);
        let d = Discriminator::new(&vs.root(), &DiscriminatorConfig::mlp(), 1).unwrap();
        let x = Tensor::rand([5, 1, 28, 28], kind::FLOAT_CPU);
        assert_eq!(d.forward_t(&x, true).size(), vec![5, 1]);
    }

    #[test]
    fn leaky_relu_keeps_a_slope_below_zero() {
        let x = Tensor::from_slice(&[-2.0f32, -0.5, 0.0, 3.0]);
        let y = Activation::LeakyRelu { slope: 0.2 }.apply(&x);
        assert_eq!(
            Vec::<f32>::try_from(&y).unwrap(),
            vec![-0.4, -0.1, 0.0, 3.0]
        );
        let y = Activation::Relu.apply(&x);
        assert_eq!(Vec::<f32>::try_from(&y).unwrap(), vec![0.0, 0.0, 0.0, 3.0]);
    }
}
