//! The GAN presets: the tutorial, the practical default and its conditional variant.

use gan_data::Scaling;
use gan_models::mlp::{MlpDiscriminatorConfig, MlpGeneratorConfig};
use gan_models::{DiscriminatorConfig, GeneratorConfig, LabelInput, Norm, WeightInit};

use super::run_defaults;
use crate::adam::{AdamConfig, EpsilonStyle};
use crate::config::TrainConfig;
use crate::ema::{EmaConfig, EmaNormalization};
use crate::family::{DiscriminatorUpdate, FakeMode, GanConfig, ModelConfig};
use crate::loss::GanLoss;
use crate::schedule::LrDecay;

/// The Keras tutorial exactly: ReLU in D, sigmoid output, data in [0, 1], Keras Adam
/// defaults (lr 1e-3, β1 0.9), fakes from G in inference mode.
pub(super) fn tutorial() -> TrainConfig {
    run_defaults(
        "tutorial",
        Scaling::ZeroOne,
        ModelConfig::Gan(GanConfig {
            fake_mode: FakeMode::Inference,
            discriminator_update: DiscriminatorUpdate::Separate,
            loss: GanLoss::NonSaturating,
            n_critic: 1,
            gradient_penalty: None,
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
pub(super) fn gan_adam() -> AdamConfig {
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
/// constant: the decay that helps `cgan` cost this model FID in ten-minute runs. Batches of
/// 256: at batch 128 the EMA's FID levels off well above the floor however many steps a
/// budget allows, at 256 it gets within a tenth of it (see docs/results.md).
pub(super) fn mlp() -> TrainConfig {
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
    let mut config = run_defaults(
        "mlp",
        Scaling::MinusOneToOne,
        ModelConfig::Gan(GanConfig {
            fake_mode: FakeMode::Training,
            discriminator_update: DiscriminatorUpdate::Separate,
            loss: GanLoss::NonSaturating,
            n_critic: 1,
            gradient_penalty: None,
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
    );
    config.batch_size = 256;
    config
}

/// The `mlp` preset made conditional: the one-hot digit enters G beside the noise, and D
/// scores the agreement of its last hidden features with a learned vector per digit
/// (projection), which measured better than a one-hot beside D's input. Past step 10,000 both
/// rates halve every 5,000 steps down to half the initial rate, then hold there: at a constant
/// rate this model's FID drifts up after about 10,000 steps, and a rate that decays on lets
/// the EMA of G drift up too (its average needs the live weights to keep moving). Batches of
/// 128, which this schedule was measured with. The grid shows ten samples of each digit, a row
/// per digit.
pub(super) fn cgan() -> TrainConfig {
    let mut config = mlp();
    config.preset = "cgan".to_owned();
    config.batch_size = 128;
    config.grid = [10, 10];
    let ModelConfig::Gan(gan) = &mut config.model else {
        unreachable!("mlp is a GAN preset")
    };
    let (GeneratorConfig::Mlp(generator), DiscriminatorConfig::Mlp(discriminator)) =
        (&mut gan.generator, &mut gan.discriminator)
    else {
        unreachable!("mlp's networks are MLPs")
    };
    generator.conditional = true;
    discriminator.conditional = true;
    discriminator.label_input = LabelInput::Projection;
    gan.lr_decay = Some(LrDecay {
        hold_steps: 10_000,
        half_life_steps: 5_000,
        min_factor: Some(0.5),
    });
    config
}
