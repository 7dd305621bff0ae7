//! `TrainConfig`: everything that defines a run, saved as `config.toml` in its directory.

use std::path::Path;

use gan_data::{Sampling, Scaling};
use gan_models::{
    Activation, DiscriminatorConfig, GeneratorConfig, MatmulChoice, OutputActivation,
};
use serde::{Deserialize, Serialize};

use crate::adam::{AdamConfig, EpsilonStyle};
use crate::error::TrainError;

/// The presets, both with the tutorial's network sizes, 10,000 steps and batch 128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// The Keras tutorial exactly: ReLU in D, sigmoid output, data in [0, 1], Keras Adam
    /// defaults (lr 1e-3, β1 0.9), fakes from G in inference mode. Known to collapse.
    Tutorial,
    /// GAN practice on the tutorial's sizes: lr 2e-4, β1 0.5, LeakyReLU(0.2) in D, tanh output
    /// with data in [-1, 1], fakes from G in training mode.
    Mlp,
}

impl Preset {
    pub const ALL: [Preset; 2] = [Preset::Tutorial, Preset::Mlp];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Tutorial => "tutorial",
            Preset::Mlp => "mlp",
        }
    }

    pub fn parse(name: &str) -> Result<Preset, TrainError> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| TrainError::UnknownPreset(name.to_owned()))
    }
}

/// Which BatchNorm statistics G uses when making the fakes of the D step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FakeMode {
    /// Running statistics, as Keras `predict` does (the tutorial).
    Inference,
    /// Batch statistics, as a PyTorch loop with `G.train()` does.
    Training,
}

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceChoice {
    Cpu,
    Cuda,
    Mps,
    /// CUDA if available, else MPS if available, else CPU.
    Auto,
}

impl DeviceChoice {
    pub fn parse(value: &str) -> Result<Self, TrainError> {
        match value {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda),
            "mps" => Ok(DeviceChoice::Mps),
            "auto" => Ok(DeviceChoice::Auto),
            other => Err(TrainError::invalid(
                "device",
                other,
                "choose cpu, cuda, mps or auto",
            )),
        }
    }

    /// The libtorch device, or an error if it is not available here.
    pub fn resolve(self) -> Result<tch::Device, TrainError> {
        match self {
            DeviceChoice::Cpu => Ok(tch::Device::Cpu),
            DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(tch::Device::Cuda(0)),
            DeviceChoice::Cuda => Err(TrainError::DeviceUnavailable("cuda".into())),
            DeviceChoice::Mps if tch::utils::has_mps() => Ok(tch::Device::Mps),
            DeviceChoice::Mps => Err(TrainError::DeviceUnavailable("mps".into())),
            DeviceChoice::Auto => Ok(if tch::Cuda::is_available() {
                tch::Device::Cuda(0)
            } else if tch::utils::has_mps() {
                tch::Device::Mps
            } else {
                tch::Device::Cpu
            }),
        }
    }
}

/// A complete description of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The preset this config started from (informational once overridden).
    pub preset: Preset,
    /// Training iterations; each is two D updates and one G update.
    pub steps: u64,
    pub batch_size: usize,
    /// Save a grid of samples from a fixed noise every this many steps.
    pub sample_every: u64,
    /// Write a checkpoint every this many steps (and at the end).
    pub checkpoint_every: u64,
    /// How many checkpoints to keep (the newest; `best` is kept apart).
    pub keep_checkpoints: usize,
    /// Measure FID, IS, mode coverage, precision and recall every this many steps (and at the
    /// end), keeping the checkpoint with the lowest FID as `best`; 0 never does.
    #[serde(default)]
    pub eval_every: u64,
    /// Images generated for each of those measurements.
    #[serde(default = "default_eval_samples")]
    pub eval_samples: usize,
    pub seed: u64,
    pub device: DeviceChoice,
    /// libtorch intra-op threads; 0 keeps libtorch's default.
    pub threads: usize,
    /// Which library multiplies in dense layers: auto, blas or onednn.
    #[serde(default)]
    pub matmul: MatmulChoice,
    /// Rows and columns of the sample grid.
    pub grid: [usize; 2],
    pub scaling: Scaling,
    pub sampling: Sampling,
    pub fake_mode: FakeMode,
    pub adam: AdamConfig,
    pub generator: GeneratorConfig,
    pub discriminator: DiscriminatorConfig,
}

fn default_eval_samples() -> usize {
    5_000
}

impl TrainConfig {
    pub fn preset(preset: Preset) -> TrainConfig {
        let base = TrainConfig {
            preset,
            steps: 10_000,
            batch_size: 128,
            sample_every: 1_000,
            checkpoint_every: 1_000,
            keep_checkpoints: 2,
            eval_every: 0,
            eval_samples: default_eval_samples(),
            seed: 42,
            device: DeviceChoice::Auto,
            threads: 0,
            matmul: MatmulChoice::Auto,
            grid: [4, 4],
            scaling: Scaling::ZeroOne,
            sampling: Sampling::WithReplacement,
            fake_mode: FakeMode::Inference,
            adam: AdamConfig::keras(),
            generator: GeneratorConfig::tutorial(),
            discriminator: DiscriminatorConfig::tutorial(),
        };
        match preset {
            Preset::Tutorial => base,
            Preset::Mlp => TrainConfig {
                scaling: Scaling::MinusOneToOne,
                fake_mode: FakeMode::Training,
                adam: AdamConfig {
                    lr: 2e-4,
                    beta1: 0.5,
                    beta2: 0.999,
                    eps: 1e-8,
                    epsilon_style: EpsilonStyle::Pytorch,
                },
                generator: GeneratorConfig::mlp(),
                discriminator: DiscriminatorConfig::mlp(),
                ..base
            },
        }
    }

    /// Reads a TOML config. Missing fields are an error naming them: a config file is complete.
    pub fn from_toml_file(path: &Path) -> Result<TrainConfig, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let config: TrainConfig = toml::from_str(&text).map_err(|e| TrainError::ConfigParse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a TrainConfig always serializes")
    }

    /// Checks every field a flag or file can set; the error names the field and the value.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.steps == 0 {
            return Err(TrainError::invalid("steps", 0, "must be at least 1"));
        }
        if !(1..=1 << 20).contains(&self.batch_size) {
            return Err(TrainError::invalid(
                "batch-size",
                self.batch_size,
                "must be in 1..=1048576",
            ));
        }
        if self.sample_every == 0 {
            return Err(TrainError::invalid("sample-every", 0, "must be at least 1"));
        }
        if self.checkpoint_every == 0 {
            return Err(TrainError::invalid(
                "checkpoint-every",
                0,
                "must be at least 1",
            ));
        }
        if self.keep_checkpoints == 0 {
            return Err(TrainError::invalid(
                "keep-checkpoints",
                0,
                "must be at least 1",
            ));
        }
        let [rows, cols] = self.grid;
        if !(1..=1024).contains(&rows) || !(1..=1024).contains(&cols) || rows * cols > 1024 {
            return Err(TrainError::invalid(
                "grid",
                format!("{:?}", self.grid),
                "rows and columns must be positive, at most 1024 images",
            ));
        }
        if !(4..=100_000).contains(&self.eval_samples) {
            return Err(TrainError::invalid(
                "eval-samples",
                self.eval_samples,
                "must be in 4..=100000",
            ));
        }
        if self.threads > 1024 {
            return Err(TrainError::invalid("threads", self.threads, "at most 1024"));
        }
        self.adam.validate()?;
        self.generator.validate()?;
        self.discriminator.validate()?;
        if self.generator.image_shape != self.discriminator.image_shape {
            return Err(TrainError::invalid(
                "discriminator.image_shape",
                format!("{:?}", self.discriminator.image_shape),
                format!(
                    "must equal the generator's {:?}",
                    self.generator.image_shape
                ),
            ));
        }
        let expected = match self.generator.output {
            OutputActivation::Sigmoid => Scaling::ZeroOne,
            OutputActivation::Tanh => Scaling::MinusOneToOne,
        };
        if self.scaling != expected {
            return Err(TrainError::invalid(
                "scaling",
                format!("{:?}", self.scaling),
                format!(
                    "the generator's {:?} output needs {expected:?} data",
                    self.generator.output
                ),
            ));
        }
        if let Activation::LeakyRelu { slope } = self.discriminator.activation {
            if !(0.0..1.0).contains(&slope) {
                return Err(TrainError::invalid(
                    "discriminator.activation.slope",
                    slope,
                    "must be in [0, 1)",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_round_trip_through_toml() {
        for preset in Preset::ALL {
            let config = TrainConfig::preset(preset);
            config.validate().unwrap();
            let back: TrainConfig = toml::from_str(&config.to_toml()).unwrap();
            assert_eq!(back, config);
        }
    }

    #[test]
    fn bad_values_name_the_field() {
        let mut c = TrainConfig::preset(Preset::Mlp);
        c.batch_size = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("batch-size = 0"));
        let mut c = TrainConfig::preset(Preset::Mlp);
        c.adam.lr = -1.0;
        assert!(c.validate().unwrap_err().to_string().contains("lr = -1"));
        let mut c = TrainConfig::preset(Preset::Mlp);
        c.scaling = Scaling::ZeroOne;
        assert!(c.validate().unwrap_err().to_string().contains("scaling"));
        assert!(Preset::parse("dcgan")
            .unwrap_err()
            .to_string()
            .contains("tutorial, mlp"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// Arbitrary text, and valid configs with bytes replaced, parse and validate to `Ok`
        /// or a typed error, never a panic.
        #[test]
        fn arbitrary_and_mutated_toml_never_panics(
            text in ".{0,200}",
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), 0u8..128), 1..8),
            preset in 0usize..2,
        ) {
            if let Ok(c) = toml::from_str::<TrainConfig>(&text) {
                let _ = c.validate();
            }
            let mut bytes = TrainConfig::preset(Preset::ALL[preset]).to_toml().into_bytes();
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if let Ok(c) = toml::from_str::<TrainConfig>(&String::from_utf8_lossy(&bytes)) {
                let _ = c.validate();
            }
        }

        #[test]
        fn extreme_numbers_are_refused_not_panicked_on(
            width in proptest::prelude::any::<i64>(),
            batch in proptest::prelude::any::<usize>(),
            grid in (proptest::prelude::any::<usize>(), proptest::prelude::any::<usize>()),
        ) {
            let mut c = TrainConfig::preset(Preset::Mlp);
            c.generator.hidden[1] = width;
            c.batch_size = batch;
            c.grid = [grid.0, grid.1];
            let _ = c.validate();
            c.discriminator.image_shape = [width, width, width];
            let _ = c.validate();
        }
    }

    #[test]
    fn unknown_and_missing_fields_are_refused() {
        let mut text = TrainConfig::preset(Preset::Tutorial).to_toml();
        text = text.replacen("steps = 10000", "stepz = 10000", 1);
        let err = toml::from_str::<TrainConfig>(&text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("stepz"), "{err}");
    }
}
