//! The MLP discriminator: images in, one logit per image out.

use gan_data::DeviceRng;
use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::config::MlpDiscriminatorConfig;
use crate::error::ModelError;
use crate::layers::{dense, ActivationLayer, LayerInfo};
use crate::matmul::{MatmulChoice, MatmulKernel};
use crate::network::Discriminator;
use crate::tape::{Dense, Tape};

/// Maps images `(N, C, H, W)` to logits `(N, 1)`; a sigmoid of the logit is the probability
/// the image is real. The loss applies that sigmoid itself, in a numerically stable way.
#[derive(Debug)]
pub struct MlpDiscriminator {
    config: MlpDiscriminatorConfig,
    layers: Vec<Dense>,
    activation: ActivationLayer,
    kernel: MatmulKernel,
}

impl MlpDiscriminator {
    /// Builds the network under `p` (parameters `fc1.weight`, …), its weights drawn from
    /// `seed`, multiplying with [`MatmulChoice::Auto`]'s kernel.
    pub fn new(
        p: &nn::Path,
        config: &MlpDiscriminatorConfig,
        seed: u64,
    ) -> Result<Self, ModelError> {
        config.validate()?;
        let rng = DeviceRng::new(seed);
        let mut fan_in = config.image_len();
        let mut layers = Vec::with_capacity(config.hidden.len() + 1);
        for (i, &width) in config.hidden.iter().chain(std::iter::once(&1)).enumerate() {
            let name = p / format!("fc{}", i + 1);
            layers.push(dense(name, fan_in, width, config.init, &rng, i as u64));
            fan_in = width;
        }
        Ok(MlpDiscriminator {
            config: config.clone(),
            layers,
            activation: ActivationLayer::new(config.activation, p.device()),
            kernel: MatmulChoice::Auto.resolve(p.device())?,
        })
    }

    pub fn config(&self) -> &MlpDiscriminatorConfig {
        &self.config
    }
}

impl Discriminator for MlpDiscriminator {
    fn forward(&self, images: &Tensor, labels: Option<&Tensor>, tape: Option<&Tape>) -> Tensor {
        assert!(labels.is_none(), "the MLP discriminator is not conditional");
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

    fn layers(&self) -> Vec<LayerInfo> {
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

    fn matmul(&self) -> MatmulKernel {
        self.kernel
    }

    fn set_matmul(&mut self, kernel: MatmulKernel) {
        self.kernel = kernel;
    }
}

impl ModuleT for MlpDiscriminator {
    fn forward_t(&self, images: &Tensor, _train: bool) -> Tensor {
        Discriminator::forward(self, images, None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Activation;
    use crate::mlp::MlpDiscriminatorConfig;
    use tch::{kind, nn::VarStore, Device};

    #[test]
    fn one_logit_per_image() {
        let vs = VarStore::new(Device::Cpu);
        let d = MlpDiscriminator::new(&vs.root(), &MlpDiscriminatorConfig::mlp(), 1).unwrap();
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
