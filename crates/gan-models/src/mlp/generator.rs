//! The MLP generator: noise in, images out.

use gan_data::DeviceRng;
use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::config::MlpGeneratorConfig;
use crate::conditioning::{append_labels, CLASSES};
use crate::config::{Norm, OutputActivation};
use crate::error::ModelError;
use crate::layers::{adopt_batch_statistics, batch_norm_config, dense, LayerInfo};
use crate::network::{Generator, Mode};
use crate::tape::Dense;

/// Maps latent vectors `(N, latent_dim)` to images `(N, C, H, W)`.
#[derive(Debug)]
pub struct MlpGenerator {
    config: MlpGeneratorConfig,
    hidden: Vec<(Dense, Option<nn::BatchNorm>)>,
    output: Dense,
}

impl MlpGenerator {
    /// Builds the network under `p` (parameters `fc1.weight`, `bn1.running_mean`, …), its
    /// weights drawn from `seed`.
    pub fn new(p: &nn::Path, config: &MlpGeneratorConfig, seed: u64) -> Result<Self, ModelError> {
        config.validate()?;
        let rng = DeviceRng::new(seed);
        let mut fan_in = config.input_len();
        let mut hidden = Vec::with_capacity(config.hidden.len());
        for (i, &width) in config.hidden.iter().enumerate() {
            let linear = dense(
                p / format!("fc{}", i + 1),
                fan_in,
                width,
                config.init,
                &rng,
                i as u64,
            );
            let norm_path = p / format!("bn{}", i + 1);
            let norm = match config.norm {
                Norm::None => None,
                Norm::BatchNorm { momentum, eps } => Some(nn::batch_norm1d(
                    norm_path,
                    width,
                    batch_norm_config(momentum, eps),
                )),
            };
            hidden.push((linear, norm));
            fan_in = width;
        }
        let output = dense(
            p / format!("fc{}", config.hidden.len() + 1),
            fan_in,
            config.image_len(),
            config.init,
            &rng,
            config.hidden.len() as u64,
        );
        Ok(MlpGenerator {
            config: config.clone(),
            hidden,
            output,
        })
    }

    pub fn config(&self) -> &MlpGeneratorConfig {
        &self.config
    }

    /// Hidden layers, then the output layer and its squashing; each hidden layer's
    /// pre-normalisation activations pass through `at_norm`, which normalises them.
    fn run(
        &self,
        z: &Tensor,
        labels: Option<&Tensor>,
        mut at_norm: impl FnMut(&nn::BatchNorm, &Tensor) -> Tensor,
    ) -> Tensor {
        let mut xs = append_labels(z, labels, self.config.conditional, "MLP generator");
        for (linear, norm) in &self.hidden {
            xs = self.config.activation.apply(&linear.forward(&xs));
            if let Some(norm) = norm {
                xs = at_norm(norm, &xs);
            }
        }
        let xs = self.output.forward(&xs);
        let xs = match self.config.output {
            OutputActivation::Sigmoid => xs.sigmoid(),
            OutputActivation::Tanh => xs.tanh(),
        };
        let [c, h, w] = self.config.image_shape;
        xs.view([-1, c, h, w])
    }
}

impl Generator for MlpGenerator {
    fn forward(&self, z: &Tensor, labels: Option<&Tensor>, mode: Mode) -> Tensor {
        self.run(z, labels, |norm, xs| norm.forward_t(xs, mode.is_training()))
    }

    fn estimate_normalization(&self, z: &Tensor, labels: Option<&Tensor>) {
        tch::no_grad(|| {
            let _ = self.run(z, labels, |norm, xs| adopt_batch_statistics(norm, xs, &[0]));
        });
    }

    /// A dense layer's statistic has one value per sample. With 4,096 samples the EMA
    /// generator's FID moved by tenths from one draw of the estimating noise to another (see
    /// docs/results.md, `mlp`); from 16,384 on, by no more than the evaluation's own noise.
    fn normalization_samples(&self) -> i64 {
        16_384
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
        for (i, &width) in c.hidden.iter().enumerate() {
            let n = i + 1;
            rows.push(LayerInfo::new(format!("fc{n}"), "Dense", &[width]));
            rows.push(LayerInfo::new(
                format!("act{n}"),
                c.activation.name(),
                &[width],
            ));
            if let Norm::BatchNorm { .. } = c.norm {
                rows.push(LayerInfo::new(
                    format!("bn{n}"),
                    "BatchNormalization",
                    &[width],
                ));
            }
        }
        let out = c.hidden.len() + 1;
        rows.push(LayerInfo::new(
            format!("fc{out}"),
            "Dense",
            &[c.image_len()],
        ));
        let squash = match c.output {
            OutputActivation::Sigmoid => "Sigmoid",
            OutputActivation::Tanh => "Tanh",
        };
        rows.push(LayerInfo::new("output", squash, &[c.image_len()]));
        rows.push(LayerInfo::new("reshape", "Reshape", &c.image_shape));
        rows
    }
}

impl ModuleT for MlpGenerator {
    /// `train` selects batch statistics (and updates the running ones) over running statistics.
    fn forward_t(&self, z: &Tensor, train: bool) -> Tensor {
        let mode = if train {
            Mode::Training
        } else {
            Mode::Inference
        };
        Generator::forward(self, z, None, mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Activation, WeightInit};
    use crate::mlp::MlpGeneratorConfig;
    use tch::{kind, nn::VarStore, Device};

    #[test]
    fn shapes_and_output_ranges() {
        for (config, lo, hi) in [
            (MlpGeneratorConfig::tutorial(), 0.0, 1.0),
            (MlpGeneratorConfig::mlp(), -1.0, 1.0),
        ] {
            let vs = VarStore::new(Device::Cpu);
            let g = MlpGenerator::new(&vs.root(), &config, 1).unwrap();
            let z = Tensor::randn([8, 100], kind::FLOAT_CPU);
            for train in [true, false] {
                let x = g.forward_t(&z, train);
                assert_eq!(x.size(), vec![8, 1, 28, 28]);
                assert!(x.min().double_value(&[]) >= lo && x.max().double_value(&[]) <= hi);
            }
        }
    }

    #[test]
    fn glorot_uniform_bounds_and_zero_bias() {
        let vs = VarStore::new(Device::Cpu);
        let _g = MlpGenerator::new(&vs.root(), &MlpGeneratorConfig::tutorial(), 1).unwrap();
        let vars = vs.variables();
        let w = &vars["fc1.weight"];
        let limit = (6.0f64 / (100.0 + 256.0)).sqrt();
        assert!(w.abs().max().double_value(&[]) <= limit);
        // Uniform on ±limit has standard deviation limit/√3.
        let std = w.std(true).double_value(&[]);
        assert!((std - limit / 3f64.sqrt()).abs() < 0.01 * limit, "{std}");
        assert_eq!(
            vars["fc1.bias"]
                .abs()
                .sum(tch::Kind::Float)
                .double_value(&[]),
            0.0
        );
        assert_eq!(
            vars["bn1.weight"].mean(tch::Kind::Float).double_value(&[]),
            1.0
        );
    }

    #[test]
    fn same_seed_same_weights() {
        let weights = |seed| {
            let vs = VarStore::new(Device::Cpu);
            let _g = MlpGenerator::new(&vs.root(), &MlpGeneratorConfig::tutorial(), seed).unwrap();
            vs.variables()["fc2.weight"].copy()
        };
        assert!(weights(5).equal(&weights(5)));
        assert!(!weights(5).equal(&weights(6)));
    }

    #[test]
    fn batchnorm_uses_keras_defaults_and_updates_running_stats_only_in_training() {
        let vs = VarStore::new(Device::Cpu);
        let g = MlpGenerator::new(&vs.root(), &MlpGeneratorConfig::tutorial(), 1).unwrap();
        let running = vs.variables()["bn1.running_mean"].shallow_clone();
        let z = Tensor::randn([32, 100], kind::FLOAT_CPU);
        let before = running.copy();
        let _ = tch::no_grad(|| g.forward_t(&z, false));
        assert!(
            running.equal(&before),
            "inference must not touch running statistics"
        );
        let _ = tch::no_grad(|| g.forward_t(&z, true));
        assert!(
            !running.equal(&before),
            "training updates running statistics"
        );
    }

    #[test]
    fn invalid_configs_are_refused_with_the_field() {
        let vs = VarStore::new(Device::Cpu);
        let mut c = MlpGeneratorConfig::tutorial();
        c.hidden = vec![256, 0];
        let err = MlpGenerator::new(&vs.root(), &c, 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("generator.hidden"), "{err}");
        let mut c = MlpGeneratorConfig::tutorial();
        c.norm = Norm::BatchNorm {
            momentum: 0.99 + 1.0,
            eps: 1e-3,
        };
        assert!(MlpGenerator::new(&vs.root(), &c, 1).is_err());
        let mut c = MlpGeneratorConfig::tutorial();
        c.activation = Activation::LeakyRelu { slope: f64::NAN };
        assert!(MlpGenerator::new(&vs.root(), &c, 1).is_err());
        let mut c = MlpGeneratorConfig::tutorial();
        c.init = WeightInit::TorchDefault;
        assert!(MlpGenerator::new(&vs.root(), &c, 1).is_ok());
    }

    /// The label reaches the output: the same noise under two labels gives two images, and
    /// the conditional config is written and read back with its flag.
    #[test]
    fn conditional_generator_uses_its_labels() {
        let vs = VarStore::new(Device::Cpu);
        let config = MlpGeneratorConfig {
            conditional: true,
            ..MlpGeneratorConfig::mlp()
        };
        let g = MlpGenerator::new(&vs.root(), &config, 1).unwrap();
        assert_eq!(vs.variables()["fc1.weight"].size(), vec![256, 110]);
        let z = Tensor::randn([1, 100], kind::FLOAT_CPU).repeat([2, 1]);
        let labels = Tensor::from_slice(&[3i64, 7]);
        let x = tch::no_grad(|| g.forward(&z, Some(&labels), Mode::Inference));
        let difference = (x.get(0) - x.get(1)).abs().max().double_value(&[]);
        assert!(difference > 1e-3, "labels 3 and 7 gave the same image");
        let same = Tensor::from_slice(&[3i64, 3]);
        let x = tch::no_grad(|| g.forward(&z, Some(&same), Mode::Inference));
        let rounding = (x.get(0) - x.get(1)).abs().max().double_value(&[]);
        assert!(rounding < 1e-5, "{rounding}");
        let text = toml::to_string(&config).unwrap();
        assert!(text.contains("conditional = true"), "{text}");
        assert_eq!(toml::from_str::<MlpGeneratorConfig>(&text).unwrap(), config);
        let plain = toml::to_string(&MlpGeneratorConfig::mlp()).unwrap();
        assert!(!plain.contains("conditional"), "{plain}");
    }

    #[test]
    fn config_round_trips_through_toml() {
        let c = MlpGeneratorConfig::mlp();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(toml::from_str::<MlpGeneratorConfig>(&text).unwrap(), c);
    }
}
