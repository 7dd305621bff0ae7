//! The convolutional GAN presets: DCGAN, and WGAN-GP on the same generator.

use gan_data::Scaling;
use gan_models::conv::{ConvDiscriminatorConfig, ConvGeneratorConfig, CriticNorm};
use gan_models::{DiscriminatorConfig, GeneratorConfig};

use super::gan::gan_adam;
use super::run_defaults;
use crate::adam::AdamConfig;
use crate::config::TrainConfig;
use crate::ema::{EmaConfig, EmaNormalization};
use crate::family::{DiscriminatorUpdate, FakeMode, GanConfig, ModelConfig};
use crate::loss::GanLoss;

/// Steps enough for any ten-minute run on a small machine; `--minutes` ends runs sooner.
const CONV_STEPS: u64 = 1_000_000;

/// Samples come from an EMA of G's weights, its BatchNorm statistics estimated afresh.
fn generator_ema() -> Option<EmaConfig> {
    Some(EmaConfig {
        decay: 0.999,
        warmup: true,
        normalization: EmaNormalization::Estimate,
    })
}

fn conv_run(preset: &str, model: GanConfig) -> TrainConfig {
    let mut config = run_defaults(preset, Scaling::MinusOneToOne, ModelConfig::Gan(model));
    config.steps = CONV_STEPS;
    config.batch_size = 64;
    config.sample_every = 2_000;
    config.checkpoint_every = 2_000;
    config
}

/// PyTorch's DCGAN example on MNIST's size: G 100 → 128×7×7 → 64×14×14 → 1×28×28 with
/// BatchNorm and ReLU, D 64 → 128 strided convolutions with LeakyReLU(0.2) and BatchNorm
/// after the first, BCE, one D step on both batches, Adam 2e-4 / β1 0.5, batch 64; samples
/// from an EMA of G.
pub(super) fn dcgan() -> TrainConfig {
    conv_run(
        "dcgan",
        GanConfig {
            fake_mode: FakeMode::Training,
            discriminator_update: DiscriminatorUpdate::Joint,
            loss: GanLoss::NonSaturating,
            n_critic: 1,
            lr_decay: None,
            generator_optimizer: gan_adam(),
            discriminator_optimizer: gan_adam(),
            generator_ema: generator_ema(),
            generator: GeneratorConfig::Conv(ConvGeneratorConfig::dcgan()),
            discriminator: DiscriminatorConfig::Conv(ConvDiscriminatorConfig::dcgan()),
        },
    )
}

/// Gulrajani et al.'s Adam: β1 0, β2 0.9.
fn wgan_adam() -> AdamConfig {
    AdamConfig {
        beta1: 0.0,
        beta2: 0.9,
        ..gan_adam()
    }
}

/// WGAN-GP (Gulrajani et al. 2017) on DCGAN's networks: a critic without normalisation, the
/// penalty weighted 10 on interpolates with one coefficient per sample, five critic steps
/// per G step, Adam β1 0 / β2 0.9; samples from an EMA of G. A step is one critic update.
pub(super) fn wgan_gp() -> TrainConfig {
    conv_run(
        "wgan-gp",
        GanConfig {
            fake_mode: FakeMode::Training,
            discriminator_update: DiscriminatorUpdate::Joint,
            loss: GanLoss::Wasserstein {
                gradient_penalty: 10.0,
            },
            n_critic: 5,
            lr_decay: None,
            generator_optimizer: wgan_adam(),
            discriminator_optimizer: wgan_adam(),
            generator_ema: generator_ema(),
            generator: GeneratorConfig::Conv(ConvGeneratorConfig::dcgan()),
            discriminator: DiscriminatorConfig::Conv(ConvDiscriminatorConfig {
                norm: CriticNorm::None,
                ..ConvDiscriminatorConfig::dcgan()
            }),
        },
    )
}
