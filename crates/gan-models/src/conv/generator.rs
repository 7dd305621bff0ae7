//! The DCGAN generator: noise projected to a feature map, transposed convolutions up to the
//! image.

use gan_data::DeviceRng;
use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::config::ConvGeneratorConfig;
use super::layer::{ConvLayer, STRIDE};
use crate::conditioning::{append_labels, CLASSES};
use crate::config::{Norm, OutputActivation, WeightInit};
use crate::error::ModelError;
use crate::layers::{adopt_batch_statistics, batch_norm_config, dense, LayerInfo};
use crate::network::{Generator, Mode};
use crate::tape::Dense;

/// Maps latent vectors `(N, latent_dim)` to images `(N, C, H, W)`. Parameters: `fc`
/// (projection), `bn0`, then `deconv1`, `bn1`, … (BatchNorm after every layer but the last).
#[derive(Debug)]
pub struct ConvGenerator {
    config: ConvGeneratorConfig,
    projection: Dense,
    /// One per transposed convolution but the last, and `norms[0]` after the projection.
    norms: Vec<nn::BatchNorm>,
    deconvs: Vec<ConvLayer>,
}

impl ConvGenerator {
    /// Builds the network under `p`, its weights drawn from `seed`.
    pub fn new(p: &nn::Path, config: &ConvGeneratorConfig, seed: u64) -> Result<Self, ModelError> {
        config.validate()?;
        let rng = DeviceRng::new(seed);
        let map: i64 = config.projected_shape().iter().product();
        let projection = dense(
            p / "fc",
            config.input_len(),
            map,
            WeightInit::TorchDefault,
            &rng,
            0,
        )
        .off_tape();
        let mut outputs: Vec<i64> = config.channels[1..].to_vec();
        outputs.push(config.image_shape[0]);
        let mut norms = Vec::new();
        let mut deconvs = Vec::new();
        let mut from = config.channels[0];
        for (i, &to) in outputs.iter().enumerate() {
            if let Norm::BatchNorm { momentum, eps } = config.norm {
                norms.push(nn::batch_norm2d(
                    p / format!("bn{i}"),
                    from,
                    batch_norm_config(momentum, eps),
                ));
            }
            let name = p / format!("deconv{}", i + 1);
            deconvs.push(ConvLayer::new(name, from, to, true, &rng, i as u64 + 1));
            from = to;
        }
        Ok(ConvGenerator {
            config: config.clone(),
            projection,
            norms,
            deconvs,
        })
    }

    pub fn config(&self) -> &ConvGeneratorConfig {
        &self.config
    }

    /// The network with every normalisation done by `at_norm`. Dense and convolution
    /// weights stay on autograd: the layers are few and convolutions dominate.
    fn run(
        &self,
        z: &Tensor,
        labels: Option<&Tensor>,
        mut at_norm: impl FnMut(&nn::BatchNorm, &Tensor) -> Tensor,
    ) -> Tensor {
        let xs = append_labels(z, labels, self.config.conditional, "conv generator");
        let [c, h, w] = self.config.projected_shape();
        let mut xs = self.projection.forward(&xs).view([-1, c, h, w]);
        for (i, deconv) in self.deconvs.iter().enumerate() {
            if let Some(norm) = self.norms.get(i) {
                xs = at_norm(norm, &xs);
            }
            xs = deconv.conv_transpose(&self.config.activation.apply(&xs));
        }
        match self.config.output {
            OutputActivation::Sigmoid => xs.sigmoid(),
            OutputActivation::Tanh => xs.tanh(),
        }
    }
}

impl Generator for ConvGenerator {
    fn forward(&self, z: &Tensor, labels: Option<&Tensor>, mode: Mode) -> Tensor {
        self.run(z, labels, |norm, xs| norm.forward_t(xs, mode.is_training()))
    }

    fn estimate_normalization(&self, z: &Tensor, labels: Option<&Tensor>) {
        tch::no_grad(|| {
            // Per channel, over samples, rows and columns.
            let _ = self.run(z, labels, |norm, xs| {
                adopt_batch_statistics(norm, xs, &[0, 2, 3])
            });
        });
    }

    fn latent_dim(&self) -> i64 {
        self.config.latent_dim
    }

    fn conditional(&self) -> bool {
        self.config.conditional
    }

    fn image_shape(&self) -> [i64; 3] {
        self.config.image_shape
    }

    fn layers(&self) -> Vec<LayerInfo> {
        let c = &self.config;
        let mut rows = Vec::new();
        if c.conditional {
            rows.push(LayerInfo::new(
                "labels",
                format!("Concatenate(one-hot {CLASSES})"),
                &[c.input_len()],
            ));
        }
        let [mut depth, mut h, mut w] = c.projected_shape();
        rows.push(LayerInfo::new("fc", "Dense", &[depth * h * w]));
        rows.push(LayerInfo::new("reshape", "Reshape", &[depth, h, w]));
        let mut outputs: Vec<i64> = c.channels[1..].to_vec();
        outputs.push(c.image_shape[0]);
        for (i, &to) in outputs.iter().enumerate() {
            if !self.norms.is_empty() {
                rows.push(LayerInfo::new(
                    format!("bn{i}"),
                    "BatchNormalization",
                    &[depth, h, w],
                ));
            }
            rows.push(LayerInfo::new(
                format!("act{i}"),
                c.activation.name(),
                &[depth, h, w],
            ));
            (depth, h, w) = (to, h * STRIDE, w * STRIDE);
            rows.push(LayerInfo::new(
                format!("deconv{}", i + 1),
                "Conv2DTranspose 4×4/2",
                &[depth, h, w],
            ));
        }
        let squash = match c.output {
            OutputActivation::Sigmoid => "Sigmoid",
            OutputActivation::Tanh => "Tanh",
        };
        rows.push(LayerInfo::new("output", squash, &c.image_shape));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Summary;
    use tch::{kind, nn::VarStore, Device};

    #[test]
    fn makes_images_of_the_configured_shape_and_range() {
        let vs = VarStore::new(Device::Cpu);
        let g = ConvGenerator::new(&vs.root(), &ConvGeneratorConfig::dcgan(), 1).unwrap();
        let z = Tensor::randn([6, 100], kind::FLOAT_CPU);
        for mode in [Mode::Training, Mode::Inference] {
            let x = tch::no_grad(|| g.forward(&z, None, mode));
            assert_eq!(x.size(), vec![6, 1, 28, 28]);
            assert!(x.abs().max().double_value(&[]) <= 1.0);
        }
        let summary = Summary::new("generator", g.layers(), &vs);
        // fc 100·6272 + 6272, bn0 2·128, deconv1 128·64·16 + 64, bn1 2·64, deconv2 64·16 + 1.
        assert_eq!(summary.trainable, 633_472 + 256 + 131_136 + 128 + 1_025);
        let last = g.layers().pop().unwrap();
        assert_eq!(last.output_shape, vec![1, 28, 28]);
    }

    /// The same noise under two labels gives two images.
    #[test]
    fn conditional_generator_uses_its_labels() {
        let vs = VarStore::new(Device::Cpu);
        let config = ConvGeneratorConfig {
            conditional: true,
            ..ConvGeneratorConfig::dcgan()
        };
        let g = ConvGenerator::new(&vs.root(), &config, 1).unwrap();
        let z = Tensor::randn([1, 100], kind::FLOAT_CPU).repeat([2, 1]);
        let x =
            tch::no_grad(|| g.forward(&z, Some(&Tensor::from_slice(&[1i64, 8])), Mode::Inference));
        assert!((x.get(0) - x.get(1)).abs().max().double_value(&[]) > 1e-3);
    }

    /// Estimated statistics make inference-mode output match training-mode output on the
    /// estimation batch.
    #[test]
    fn estimated_normalization_matches_batch_statistics() {
        let vs = VarStore::new(Device::Cpu);
        let g = ConvGenerator::new(&vs.root(), &ConvGeneratorConfig::dcgan(), 2).unwrap();
        let z = Tensor::randn([512, 100], kind::FLOAT_CPU);
        g.estimate_normalization(&z, None);
        let (eval, train) = tch::no_grad(|| {
            (
                g.forward(&z, None, Mode::Inference),
                g.forward(&z, None, Mode::Training),
            )
        });
        let gap = (eval - train).abs().max().double_value(&[]);
        assert!(gap < 2e-2, "{gap}");
    }

    #[test]
    fn refuses_sizes_that_do_not_halve() {
        let config = ConvGeneratorConfig {
            channels: vec![64, 32, 16],
            ..ConvGeneratorConfig::dcgan()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("generator.channels"), "{err}");
    }
}
