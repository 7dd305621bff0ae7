//! The DCGAN discriminator (critic): strided convolutions down to a small feature map, then
//! one dense score per image.

use gan_data::DeviceRng;
use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::config::{ConvDiscriminatorConfig, CriticNorm};
use super::layer::{ConvLayer, STRIDE};
use super::spectral::SpectralNorm;
use crate::conditioning::{one_hot, CLASSES};
use crate::config::WeightInit;
use crate::error::ModelError;
use crate::layers::{batch_norm_config, dense, LayerInfo};
use crate::network::Discriminator;
use crate::tape::Dense;

/// Random streams of the spectral norms' start vectors, past the weights' streams.
const SPECTRAL_STREAM: u64 = 1 << 20;

#[derive(Debug)]
enum Normalization {
    Batch(nn::BatchNorm),
    Layer(nn::LayerNorm),
}

/// Maps images `(N, C, H, W)` to scores `(N, 1)`: logits for the BCE loss, raw critic
/// values for the Wasserstein one. Parameters: `conv1`, `norm2`, `conv2`, …, `fc`, and
/// `projection` for a projection discriminator.
#[derive(Debug)]
pub struct ConvDiscriminator {
    config: ConvDiscriminatorConfig,
    convs: Vec<ConvLayer>,
    /// `norms[i]` follows `convs[i + 1]`.
    norms: Vec<Normalization>,
    head: Dense,
    head_spectral: Option<SpectralNorm>,
    projection: Option<Tensor>,
}

impl ConvDiscriminator {
    /// Builds the network under `p`, its weights drawn from `seed`.
    pub fn new(
        p: &nn::Path,
        config: &ConvDiscriminatorConfig,
        seed: u64,
    ) -> Result<Self, ModelError> {
        config.validate()?;
        let rng = DeviceRng::new(seed);
        let [_, mut rows, mut cols] = config.image_shape;
        let mut input = config.input_channels();
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        for (i, &channels) in config.channels.iter().enumerate() {
            let n = i + 1;
            let mut conv = ConvLayer::new(
                p / format!("conv{n}"),
                input,
                channels,
                false,
                &rng,
                i as u64,
            );
            if config.spectral_norm {
                conv = conv.spectrally_normalized(
                    &(p / format!("conv{n}")),
                    &rng,
                    SPECTRAL_STREAM + i as u64,
                );
            }
            convs.push(conv);
            (rows, cols) = (rows / STRIDE, cols / STRIDE);
            if i > 0 {
                let name = p / format!("norm{n}");
                match config.norm {
                    CriticNorm::None => {}
                    CriticNorm::BatchNorm { momentum, eps } => norms.push(Normalization::Batch(
                        nn::batch_norm2d(name, channels, batch_norm_config(momentum, eps)),
                    )),
                    CriticNorm::LayerNorm { eps } => {
                        norms.push(Normalization::Layer(nn::layer_norm(
                            name,
                            vec![channels, rows, cols],
                            nn::LayerNormConfig {
                                eps,
                                ..Default::default()
                            },
                        )))
                    }
                }
            }
            input = channels;
        }
        let layer = config.channels.len() as u64;
        let head = dense(
            p / "fc",
            config.features(),
            1,
            WeightInit::TorchDefault,
            &rng,
            layer,
        );
        let head_spectral = config
            .spectral_norm
            .then(|| SpectralNorm::new(&(p / "fc"), &head.ws, &rng, SPECTRAL_STREAM + layer));
        // Zeros: training starts from the unconditional score (as the MLP's projection).
        let projection = config
            .projects_labels()
            .then(|| (p / "projection").zeros("weight", &[CLASSES, config.features()]));
        Ok(ConvDiscriminator {
            config: config.clone(),
            convs,
            norms,
            head,
            head_spectral,
            projection,
        })
    }

    pub fn config(&self) -> &ConvDiscriminatorConfig {
        &self.config
    }

    /// The image with one-hot label planes behind its channels, for concatenation.
    fn input(&self, images: &Tensor, labels: Option<&Tensor>) -> Tensor {
        match (self.config.concatenates_labels(), labels) {
            (true, Some(labels)) => {
                let [_, rows, cols] = self.config.image_shape;
                let planes = one_hot(labels, images.kind())
                    .view([-1, CLASSES, 1, 1])
                    .expand([-1, CLASSES, rows, cols], false);
                Tensor::cat(&[images, &planes], 1)
            }
            (true, None) => panic!("the conditional conv discriminator needs labels"),
            (false, _) => images.shallow_clone(),
        }
    }
}

impl Discriminator for ConvDiscriminator {
    /// Convolutions and the head stay on autograd (the head is not recorded on a tape): a
    /// gradient penalty needs their second derivatives, and convolutions dominate the cost
    /// anyway.
    fn forward(&self, images: &Tensor, labels: Option<&Tensor>) -> Tensor {
        let mut xs = self.input(images, labels);
        for (i, conv) in self.convs.iter().enumerate() {
            xs = conv.conv(&xs);
            if i > 0 {
                xs = match self.norms.get(i - 1) {
                    Some(Normalization::Batch(norm)) => norm.forward_t(&xs, true),
                    Some(Normalization::Layer(norm)) => norm.forward_t(&xs, true),
                    None => xs,
                };
            }
            xs = self.config.activation.apply(&xs);
        }
        let features = xs.flatten(1, -1);
        let weight = match &self.head_spectral {
            Some(spectral) => spectral.normalize(&self.head.ws),
            None => self.head.ws.shallow_clone(),
        };
        let scores = self.head.forward_with_weight(&features, &weight);
        match (&self.projection, labels) {
            (Some(projection), Some(labels)) => {
                let class_vectors = one_hot(labels, features.kind()).matmul(projection);
                scores + (class_vectors * &features).sum_dim_intlist(1, true, features.kind())
            }
            (Some(_), None) => panic!("the conditional conv discriminator needs labels"),
            (None, _) => scores,
        }
    }

    fn power_iteration(&self) {
        for conv in &self.convs {
            conv.power_iteration();
        }
        if let Some(spectral) = &self.head_spectral {
            spectral.power_iteration(&self.head.ws);
        }
    }

    fn conditional(&self) -> bool {
        self.config.conditional
    }

    fn layers(&self) -> Vec<LayerInfo> {
        let c = &self.config;
        let mut rows = Vec::new();
        let [_, mut h, mut w] = c.image_shape;
        if c.concatenates_labels() {
            rows.push(LayerInfo::new(
                "labels",
                format!("Concatenate(one-hot planes {CLASSES})"),
                &[c.input_channels(), h, w],
            ));
        }
        let conv_kind = if c.spectral_norm {
            "Conv2D 4×4/2, SN"
        } else {
            "Conv2D 4×4/2"
        };
        for (i, &channels) in c.channels.iter().enumerate() {
            let n = i + 1;
            (h, w) = (h / STRIDE, w / STRIDE);
            rows.push(LayerInfo::new(
                format!("conv{n}"),
                conv_kind,
                &[channels, h, w],
            ));
            match (i, c.norm) {
                (0, _) | (_, CriticNorm::None) => {}
                (_, CriticNorm::BatchNorm { .. }) => rows.push(LayerInfo::new(
                    format!("norm{n}"),
                    "BatchNormalization",
                    &[channels, h, w],
                )),
                (_, CriticNorm::LayerNorm { .. }) => rows.push(LayerInfo::new(
                    format!("norm{n}"),
                    "LayerNormalization",
                    &[channels, h, w],
                )),
            }
            rows.push(LayerInfo::new(
                format!("act{n}"),
                c.activation.name(),
                &[channels, h, w],
            ));
        }
        rows.push(LayerInfo::new("flatten", "Flatten", &[c.features()]));
        rows.push(LayerInfo::new(
            "fc",
            if c.spectral_norm {
                "Dense, SN"
            } else {
                "Dense"
            },
            &[1],
        ));
        if self.projection.is_some() {
            rows.push(LayerInfo::new(
                "projection",
                format!("Projection({CLASSES} classes)"),
                &[1],
            ));
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditioning::LabelInput;
    use crate::summary::Summary;
    use tch::{kind, nn::VarStore, Device};

    #[test]
    fn one_score_per_image_and_the_summary_counts_every_parameter() {
        let vs = VarStore::new(Device::Cpu);
        let d = ConvDiscriminator::new(&vs.root(), &ConvDiscriminatorConfig::dcgan(), 1).unwrap();
        let x = Tensor::rand([5, 1, 28, 28], kind::FLOAT_CPU);
        assert_eq!(d.forward(&x, None).size(), vec![5, 1]);
        let summary = Summary::new("discriminator", d.layers(), &vs);
        // conv1 16·64 + 64, conv2 64·128·16 + 128, norm2 2·128 (+ 256 running), fc 6272 + 1.
        assert_eq!(summary.trainable, 1_088 + 131_200 + 256 + 6_273);
        let listed: i64 = summary.rows.iter().map(|(_, n)| n).sum();
        assert_eq!(listed, summary.total);
    }

    /// Layer norm and spectral norm work per sample: a critic's score of an image does not
    /// depend on the rest of the batch (what a gradient penalty needs).
    #[test]
    fn critic_without_batch_norm_scores_each_image_alone() {
        for (norm, spectral_norm) in [
            (CriticNorm::None, true),
            (CriticNorm::LayerNorm { eps: 1e-5 }, false),
        ] {
            let vs = VarStore::new(Device::Cpu);
            let config = ConvDiscriminatorConfig {
                norm,
                spectral_norm,
                ..ConvDiscriminatorConfig::dcgan()
            };
            let d = ConvDiscriminator::new(&vs.root(), &config, 1).unwrap();
            let x = Tensor::rand([4, 1, 28, 28], kind::FLOAT_CPU);
            let all = tch::no_grad(|| d.forward(&x, None));
            let first = tch::no_grad(|| d.forward(&x.narrow(0, 0, 1), None));
            assert!((all.get(0) - first.get(0)).abs().double_value(&[0]) < 1e-5);
            let names: Vec<String> = vs.variables().into_keys().collect();
            assert_eq!(
                names.iter().any(|n| n == "conv1.weight_u"),
                spectral_norm,
                "{names:?}"
            );
        }
    }

    /// Both ways of taking labels reach the score.
    #[test]
    fn conditional_discriminators_use_their_labels() {
        for label_input in [LabelInput::Concat, LabelInput::Projection] {
            let vs = VarStore::new(Device::Cpu);
            let config = ConvDiscriminatorConfig {
                conditional: true,
                label_input,
                norm: CriticNorm::None,
                ..ConvDiscriminatorConfig::dcgan()
            };
            let d = ConvDiscriminator::new(&vs.root(), &config, 1).unwrap();
            if label_input == LabelInput::Projection {
                tch::no_grad(|| {
                    let mut projection = vs.variables()["projection.weight"].shallow_clone();
                    let _ = projection.uniform_(-0.1, 0.1);
                });
            }
            let x = Tensor::rand([1, 1, 28, 28], kind::FLOAT_CPU).repeat([2, 1, 1, 1]);
            let s = tch::no_grad(|| d.forward(&x, Some(&Tensor::from_slice(&[2i64, 5]))));
            let gap = (s.double_value(&[0, 0]) - s.double_value(&[1, 0])).abs();
            assert!(gap > 1e-5, "{label_input:?}: labels 2 and 5 scored alike");
        }
    }
}
