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

/// DCGAN's generator at half its MNIST width: 100 → 64×7×7 → 32×14×14 → 1×28×28. At the
/// classic widths (128, 64) a step costs about three times as much, and in ten minutes the
/// smaller networks reach the better FID.
fn generator() -> GeneratorConfig {
    GeneratorConfig::Conv(ConvGeneratorConfig {
        channels: vec![64, 32],
        ..ConvGeneratorConfig::dcgan()
    })
}

/// DCGAN's discriminator at half width (1×28×28 → 32×14×14 → 64×7×7 → 1) and without
/// BatchNorm, which cost FID in every measured run.
fn discriminator() -> DiscriminatorConfig {
    DiscriminatorConfig::Conv(ConvDiscriminatorConfig {
        channels: vec![32, 64],
        norm: CriticNorm::None,
        ..ConvDiscriminatorConfig::dcgan()
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

/// DCGAN on MNIST's size: G with BatchNorm and ReLU, D of strided convolutions with
/// LeakyReLU(0.2), BCE with a gradient penalty weighted 10 on interpolates (as WGAN-GP's;
/// Kurach et al. 2019), one D step on both batches, batch 64, Adam β1 0.5 at G 1e-3 and D
/// 5e-4 (five times DCGAN's 2e-4 and a slower D: within a ten-minute budget both measured
/// better); samples from an EMA of G. The penalty costs a third of a ten-minute run's steps
/// and still measured better there (docs/results.md).
pub(super) fn dcgan() -> TrainConfig {
    conv_run(
        "dcgan",
        GanConfig {
            fake_mode: FakeMode::Training,
            discriminator_update: DiscriminatorUpdate::Joint,
            loss: GanLoss::NonSaturating,
            n_critic: 1,
            gradient_penalty: Some(10.0),
            lr_decay: None,
            generator_optimizer: AdamConfig {
                lr: 1e-3,
                ..gan_adam()
            },
            discriminator_optimizer: AdamConfig {
                lr: 5e-4,
                ..gan_adam()
            },
            generator_ema: generator_ema(),
            generator: generator(),
            discriminator: discriminator(),
        },
    )
}

/// Gulrajani et al.'s Adam (β1 0, β2 0.9) at ten times their rate of 1e-4: within a
/// ten-minute budget every higher rate measured better, up to this one.
fn wgan_adam() -> AdamConfig {
    AdamConfig {
        lr: 1e-3,
        beta1: 0.0,
        beta2: 0.9,
        ..gan_adam()
    }
}

/// WGAN-GP (Gulrajani et al. 2017) on `dcgan`'s networks: a critic without normalisation, the
/// penalty weighted 10 on interpolates with one coefficient per sample, five critic steps
/// per G step, Adam β1 0 / β2 0.9 at lr 1e-3; samples from an EMA of G. A step is one critic
/// update.
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
            gradient_penalty: None,
            lr_decay: None,
            generator_optimizer: wgan_adam(),
            discriminator_optimizer: wgan_adam(),
            generator_ema: generator_ema(),
            generator: generator(),
            discriminator: discriminator(),
        },
    )
}
