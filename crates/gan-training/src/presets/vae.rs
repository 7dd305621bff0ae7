//! The VAE presets: a default for sampling, the literature's likelihood protocol, and a
//! conditional variant.

use gan_data::Scaling;
use gan_models::vae::{DecoderConfig, EncoderConfig, MlpVaeConfig};
use gan_models::{Activation, MNIST_SHAPE};

use super::run_defaults;
use crate::adam::{AdamConfig, EpsilonStyle};
use crate::config::TrainConfig;
use crate::family::{ModelConfig, PriorConfig, VaeConfig};
use crate::schedule::LrDecay;

/// Steps enough for any ten-minute run on a small machine; `--minutes` ends runs sooner.
const VAE_STEPS: u64 = 1_000_000;

fn vae_adam(lr: f64, eps: f64) -> AdamConfig {
    AdamConfig {
        lr,
        beta1: 0.9,
        beta2: 0.999,
        eps,
        epsilon_style: EpsilonStyle::Pytorch,
    }
}

fn vae_run(preset: &str, batch_size: usize, model: VaeConfig) -> TrainConfig {
    let mut config = run_defaults(preset, Scaling::ZeroOne, ModelConfig::Vae(model));
    config.steps = VAE_STEPS;
    config.batch_size = batch_size;
    config.sample_every = 5_000;
    config.checkpoint_every = 5_000;
    config.grid = [10, 10];
    config
}

fn mlp(hidden: &[i64], activation: Activation) -> MlpVaeConfig {
    MlpVaeConfig {
        hidden: hidden.to_vec(),
        activation,
    }
}

/// The default VAE: MLPs 784-512-256-(2×16) and back, ReLU, Bernoulli likelihood on the
/// pixel intensities, Adam 1e-3 halving every 20,000 steps after 20,000.
pub(super) fn vae() -> TrainConfig {
    vae_run(
        "vae",
        128,
        VaeConfig {
            latent_dim: 16,
            image_shape: MNIST_SHAPE,
            conditional: false,
            binarize: false,
            beta: 1.0,
            kl_warmup_steps: 0,
            importance_samples: 1,
            eval_importance_samples: 1_000,
            optimizer: vae_adam(1e-3, 1e-8),
            lr_decay: Some(LrDecay {
                hold_steps: 20_000,
                half_life_steps: 20_000,
                min_factor: None,
            }),
            ema: None,
            encoder: EncoderConfig::Mlp(mlp(&[512, 256], Activation::Relu)),
            decoder: DecoderConfig::Mlp(mlp(&[256, 512], Activation::Relu)),
            prior: PriorConfig::FittedMixture {
                components: 10,
                fit_images: 20_000,
            },
        },
    )
}

/// Burda, Grosse & Salakhutdinov (2015)'s one-stochastic-layer model: 784-200-200-(2×50)
/// and 50-200-200-784 with tanh, trained on a fresh binarization of every batch, Adam with
/// their ε of 1e-4; their schedule (rates divided by 10^(1/7) after 3^i passes) compressed
/// into a halving every 20,000 steps after 20,000.
pub(super) fn vae_binarized() -> TrainConfig {
    vae_run(
        "vae-binarized",
        100,
        VaeConfig {
            latent_dim: 50,
            image_shape: MNIST_SHAPE,
            conditional: false,
            binarize: true,
            beta: 1.0,
            kl_warmup_steps: 0,
            importance_samples: 1,
            eval_importance_samples: 1_000,
            optimizer: vae_adam(1e-3, 1e-4),
            lr_decay: Some(LrDecay {
                hold_steps: 20_000,
                half_life_steps: 20_000,
                min_factor: None,
            }),
            ema: None,
            encoder: EncoderConfig::Mlp(mlp(&[200, 200], Activation::Tanh)),
            decoder: DecoderConfig::Mlp(mlp(&[200, 200], Activation::Tanh)),
            prior: PriorConfig::StandardNormal,
        },
    )
}

/// `vae` with the digit's one-hot beside the encoder's image and the decoder's latent.
pub(super) fn cvae() -> TrainConfig {
    let mut config = vae();
    config.preset = "cvae".to_owned();
    let ModelConfig::Vae(model) = &mut config.model else {
        unreachable!("vae is a VAE preset")
    };
    model.conditional = true;
    // Codes given the digit carry no digit clusters for a mixture to find.
    model.prior = PriorConfig::StandardNormal;
    config
}
