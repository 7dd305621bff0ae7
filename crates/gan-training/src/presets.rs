//! Presets as data: a name, one line of description and a builder each. The CLI's choices,
//! `gan presets`, `gan summary`, `gan bench` and error messages all read [`PRESETS`], so a
//! new preset is one entry here.

use gan_data::{Sampling, Scaling};
use gan_models::mlp::{MlpDiscriminatorConfig, MlpGeneratorConfig};
use gan_models::{
    DiscriminatorConfig, GeneratorConfig, LabelInput, MatmulChoice, Norm, WeightInit,
};

use crate::adam::{AdamConfig, EpsilonStyle};
use crate::config::{default_eval_samples, DeviceChoice, TrainConfig};
use crate::ema::{EmaConfig, EmaNormalization};
use crate::error::TrainError;
use crate::family::{DiscriminatorUpdate, FakeMode, GanConfig, ModelConfig};
use crate::schedule::LrDecay;

/// A named starting point for a run.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    pub name: &'static str,
    /// One line for listings.
    pub description: &'static str,
    /// Said to the user when a new run starts from this preset, if anything.
    pub notice: Option<&'static str>,
    build: fn() -> TrainConfig,
}

impl Preset {
    pub fn config(&self) -> TrainConfig {
        (self.build)()
    }
}

/// Every preset, the default first.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "mlp",
        description: "the tutorial's MLP sizes with GAN practice: LeakyReLU D, tanh, PyTorch \
                      init and BatchNorm, lr 2e-4, β1 0.5, samples from an EMA of G",
        notice: None,
        build: mlp,
    },
    Preset {
        name: "tutorial",
        description: "the Keras tutorial exactly (lr 1e-3, β1 0.9, ReLU D, sigmoid, fakes \
                      from G's predict); known to collapse",
        notice: Some(
            "preset tutorial: the Keras tutorial exactly. Its settings (lr 1e-3, β1 0.9, ReLU \
             in D, fakes from G in inference mode) are known to collapse to a few modes within \
             the first few thousand steps; the default preset (mlp) does not.",
        ),
        build: tutorial,
    },
    Preset {
        name: "cgan",
        description: "mlp conditioned on the digit (one-hot beside G's noise, a projection \
                      discriminator), rates halving every 5,000 steps after 10,000; \
                      `gan generate --digit`",
        notice: None,
        build: cgan,
    },
];

/// The preset a run uses when none is named.
pub const DEFAULT_PRESET: &str = "mlp";

/// The preset called `name`; the error lists the choices.
pub fn find(name: &str) -> Result<&'static Preset, TrainError> {
    PRESETS
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| TrainError::UnknownPreset {
            name: name.to_owned(),
            choices: names().join(", "),
        })
}

/// Every preset's name, the default first.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

/// What every preset shares: 10,000 steps of batch 128, a 4×4 grid every 1,000 steps.
fn run_defaults(preset: &str, scaling: Scaling, model: ModelConfig) -> TrainConfig {
    TrainConfig {
        preset: preset.to_owned(),
        steps: 10_000,
        minutes: None,
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
        scaling,
        sampling: Sampling::WithReplacement,
        model,
    }
}

/// The Keras tutorial exactly: ReLU in D, sigmoid output, data in [0, 1], Keras Adam
/// defaults (lr 1e-3, β1 0.9), fakes from G in inference mode.
fn tutorial() -> TrainConfig {
    run_defaults(
        "tutorial",
        Scaling::ZeroOne,
        ModelConfig::Gan(GanConfig {
            fake_mode: FakeMode::Inference,
            discriminator_update: DiscriminatorUpdate::Separate,
            lr_decay: None,
            generator_optimizer: AdamConfig::keras(),
            discriminator_optimizer: AdamConfig::keras(),
            generator_ema: None,
            generator: GeneratorConfig::Mlp(MlpGeneratorConfig::tutorial()),
            discriminator: DiscriminatorConfig::Mlp(MlpDiscriminatorConfig::tutorial()),
        }),
    )
}

/// PyTorch's Adam as GAN practice sets it: lr 2e-4, β1 0.5.
fn gan_adam() -> AdamConfig {
    AdamConfig {
        lr: 2e-4,
        beta1: 0.5,
        beta2: 0.999,
        eps: 1e-8,
        epsilon_style: EpsilonStyle::Pytorch,
    }
}

/// GAN practice on the tutorial's sizes: lr 2e-4, β1 0.5, LeakyReLU(0.2) in D, tanh output
/// with data in [-1, 1], fakes from G in training mode; PyTorch's default initialisation and
/// BatchNorm (momentum 0.1, ε 1e-5); samples from an EMA of G's weights. The rate stays
/// constant: the decay that helps `cgan` cost this model FID in ten-minute runs.
fn mlp() -> TrainConfig {
    let generator = MlpGeneratorConfig {
        norm: Norm::BatchNorm {
            momentum: 0.1,
            eps: 1e-5,
        },
        init: WeightInit::TorchDefault,
        ..MlpGeneratorConfig::mlp()
    };
    let discriminator = MlpDiscriminatorConfig {
        init: WeightInit::TorchDefault,
        ..MlpDiscriminatorConfig::mlp()
    };
    run_defaults(
        "mlp",
        Scaling::MinusOneToOne,
        ModelConfig::Gan(GanConfig {
            fake_mode: FakeMode::Training,
            discriminator_update: DiscriminatorUpdate::Separate,
            lr_decay: None,
            generator_optimizer: gan_adam(),
            discriminator_optimizer: gan_adam(),
            generator_ema: Some(EmaConfig {
                decay: 0.9999,
                warmup: true,
                normalization: EmaNormalization::Estimate,
            }),
            generator: GeneratorConfig::Mlp(generator),
            discriminator: DiscriminatorConfig::Mlp(discriminator),
        }),
    )
}

/// The `mlp` preset made conditional: the one-hot digit enters G beside the noise, and D
/// scores the agreement of its last hidden features with a learned vector per digit
/// (projection), which measured better than a one-hot beside D's input. Past step 10,000 both
/// rates halve every 5,000 steps: at a constant rate this model's FID drifts up again after
/// about 10,000 steps, with the decay it keeps falling. The grid shows ten samples of each
/// digit, a row per digit.
fn cgan() -> TrainConfig {
    let mut config = mlp();
    config.preset = "cgan".to_owned();
    config.grid = [10, 10];
    let ModelConfig::Gan(gan) = &mut config.model;
    let GeneratorConfig::Mlp(generator) = &mut gan.generator;
    generator.conditional = true;
    let DiscriminatorConfig::Mlp(discriminator) = &mut gan.discriminator;
    discriminator.conditional = true;
    discriminator.label_input = LabelInput::Projection;
    gan.lr_decay = Some(LrDecay {
        hold_steps: 10_000,
        half_life_steps: 5_000,
    });
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_validates_round_trips_and_is_named_alike() {
        for preset in PRESETS {
            let config = preset.config();
            assert_eq!(config.preset, preset.name);
            config.validate().unwrap();
            let back: TrainConfig = toml::from_str(&config.to_toml()).unwrap();
            assert_eq!(back, config);
            assert!(!preset.description.is_empty());
        }
        assert_eq!(PRESETS[0].name, DEFAULT_PRESET);
    }

    #[test]
    fn unknown_preset_lists_the_choices() {
        let err = find("dcgan9").unwrap_err().to_string();
        assert!(
            err.contains("dcgan9") && err.contains("mlp, tutorial, cgan"),
            "{err}"
        );
    }
}
