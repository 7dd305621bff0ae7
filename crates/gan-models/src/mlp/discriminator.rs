//! The MLP discriminator: images in, one logit per image out.

use gan_data::DeviceRng;
use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::config::MlpDiscriminatorConfig;
use crate::conditioning::{append_labels, one_hot, LabelInput, CLASSES};
use crate::error::ModelError;
use crate::layers::{dense, LayerInfo};
use crate::network::Discriminator;
use crate::tape::Dense;

/// Maps images `(N, C, H, W)` to logits `(N, 1)`; a sigmoid of the logit is the probability
/// the image is real. The loss applies that sigmoid itself, in a numerically stable way.
#[derive(Debug)]
pub struct MlpDiscriminator {
    config: MlpDiscriminatorConfig,
    layers: Vec<Dense>,
    /// Per-class vectors of a projection discriminator, `(CLASSES, last hidden width)`.
    projection: Option<Tensor>,
}

impl MlpDiscriminator {
    /// Builds the network under `p` (parameters `fc1.weight`, …), its weights drawn from
    /// `seed`.
    pub fn new(
        p: &nn::Path,
        config: &MlpDiscriminatorConfig,
        seed: u64,
    ) -> Result<Self, ModelError> {
        config.validate()?;
        let rng = DeviceRng::new(seed);
        let mut fan_in = config.input_len();
        let mut layers = Vec::with_capacity(config.hidden.len() + 1);
        for (i, &width) in config.hidden.iter().chain(std::iter::once(&1)).enumerate() {
            let name = p / format!("fc{}", i + 1);
            layers.push(dense(name, fan_in, width, config.init, &rng, i as u64));
            fan_in = width;
        }
        let last_hidden = *config
            .hidden
            .last()
            .expect("validated: at least one hidden layer");
        // Zeros: training starts from the unconditional score and learns each class's
        // direction from the data.
        let projection = config
            .projects_labels()
            .then(|| (p / "projection").zeros("weight", &[CLASSES, last_hidden]));
        Ok(MlpDiscriminator {
            config: config.clone(),
            layers,
            projection,
        })
    }

    pub fn config(&self) -> &MlpDiscriminatorConfig {
        &self.config
    }
}

impl Discriminator for MlpDiscriminator {
    fn forward(&self, images: &Tensor, labels: Option<&Tensor>) -> Tensor {
        let c = &self.config;
        let flat = images.flatten(1, -1);
        let mut xs = match c.label_input {
            LabelInput::Concat => append_labels(&flat, labels, c.conditional, "MLP discriminator"),
            LabelInput::Projection => flat,
        };
        let (head, hidden) = self.layers.split_last().expect("at least one layer");
        for layer in hidden {
            xs = self.config.activation.apply(&layer.forward(&xs));
        }
        let logits = head.forward(&xs);
        match (&self.projection, labels) {
            (Some(projection), Some(labels)) => {
                let class_vectors = one_hot(labels, xs.kind()).matmul(projection);
                logits + (class_vectors * &xs).sum_dim_intlist(1, true, xs.kind())
            }
            (Some(_), None) => panic!("the conditional MLP discriminator needs labels"),
            (None, _) => logits,
        }
    }

    fn conditional(&self) -> bool {
        self.config.conditional
    }

    fn layers(&self) -> Vec<LayerInfo> {
        let c = &self.config;
        let mut rows = vec![LayerInfo::new("flatten", "Flatten", &[c.image_len()])];
        if c.concatenates_labels() {
            rows.push(LayerInfo::new(
                "labels",
                format!("Concatenate(one-hot {CLASSES})"),
                &[c.input_len()],
            ));
        }
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
        if self.projection.is_some() {
            rows.push(LayerInfo::new(
                "projection",
                format!("Projection({CLASSES} classes)"),
                &[1],
            ));
        }
        rows.push(LayerInfo::new("output", "Sigmoid (in the loss)", &[1]));
        rows
    }
}

impl ModuleT for MlpDiscriminator {
    fn forward_t(&self, images: &Tensor, _train: bool) -> Tensor {
        Discriminator::forward(self, images, None)
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

    /// Both ways of taking labels reach the score: the same image under two labels scores
    /// differently (the projection once its class vectors have left their zero start).
    #[test]
    fn conditional_discriminators_use_their_labels() {
        for label_input in [LabelInput::Concat, LabelInput::Projection] {
            let vs = VarStore::new(Device::Cpu);
            let config = MlpDiscriminatorConfig {
                conditional: true,
                label_input,
                ..MlpDiscriminatorConfig::mlp()
            };
            let d = MlpDiscriminator::new(&vs.root(), &config, 1).unwrap();
            if label_input == LabelInput::Projection {
                tch::no_grad(|| {
                    let mut projection = vs.variables()["projection.weight"].shallow_clone();
                    let _ = projection.uniform_(-0.1, 0.1);
                });
            }
            let x = Tensor::rand([1, 1, 28, 28], kind::FLOAT_CPU).repeat([2, 1, 1, 1]);
            let score =
                |labels: &[i64]| tch::no_grad(|| d.forward(&x, Some(&Tensor::from_slice(labels))));
            let s = score(&[2, 5]);
            assert_eq!(s.size(), vec![2, 1]);
            let gap = (s.double_value(&[0, 0]) - s.double_value(&[1, 0])).abs();
            assert!(gap > 1e-4, "{label_input:?}: labels 2 and 5 scored alike");
            // Same label: equal up to the rounding of rows the product blocks differently.
            let s = score(&[5, 5]);
            assert!((s.double_value(&[0, 0]) - s.double_value(&[1, 0])).abs() < 1e-5);
        }
    }

    #[test]
    fn leaky_relu_keeps_a_slope_below_zero() {
        let x = Tensor::from_slice(&[-2.0f32, -0.5, 0.0, 3.0]).set_requires_grad(true);
        let y = Activation::LeakyRelu { slope: 0.2 }.apply(&x);
        assert_eq!(
            Vec::<f32>::try_from(&y).unwrap(),
            vec![-0.4, -0.1, 0.0, 3.0]
        );
        // The slope's side includes 0, as PyTorch's LeakyReLU has it.
        let grads = Tensor::run_backward(&[(&y * 2.0).sum(y.kind())], &[&x], false, false);
        assert_eq!(
            Vec::<f32>::try_from(&grads[0]).unwrap(),
            vec![0.4, 0.4, 0.4, 2.0]
        );
        let y = Activation::Relu.apply(&x);
        assert_eq!(Vec::<f32>::try_from(&y).unwrap(), vec![0.0, 0.0, 0.0, 3.0]);
    }
}
