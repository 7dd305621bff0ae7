//! Presets as data: a name, one line of description and a builder each. The CLI's choices,
//! `gan presets`, `gan summary`, `gan bench` and error messages all read [`PRESETS`], so a
//! new preset is one entry here (its builder lives in the family's file: `presets/gan.rs`,
//! `presets/conv_gan.rs`, `presets/vae.rs`, `presets/diffusion.rs`).

mod conv_gan;
mod diffusion;
mod gan;
mod vae;

use gan_data::{Sampling, Scaling};
use gan_models::MatmulChoice;

use crate::config::{default_eval_samples, DeviceChoice, TrainConfig};
use crate::error::TrainError;
use crate::family::ModelConfig;
use conv_gan::{dcgan, wgan_gp};
use diffusion::flow_mlp;
use gan::{cgan, mlp, tutorial};
use vae::{cvae, vae, vae_binarized};

/// A named starting point for a run.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    pub name: &'static str,
    /// One line for listings.
    pub description: &'static str,
    /// Said to the user when a new run starts from this preset, if anything.
    pub notice: Option<&'static str>,
    /// The PyTorch eager script `cargo xtask bench` measures it against.
    pub reference: TorchReference,
    build: fn() -> TrainConfig,
}

/// A PyTorch eager reference of a preset for the bench: its script (run with the preset's
/// flags), the images per timed repeat, and the batch sizes it is measured at (`None`: the
/// bench's `--batch-sizes`, the sweep of the MLP GANs the speed work targets).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct TorchReference {
    pub script: &'static str,
    pub images_per_repeat: u64,
    pub batches: Option<&'static [u64]>,
}

const MLP_GAN: TorchReference = TorchReference {
    script: "bench/reference/torch_mlp_gan.py",
    images_per_repeat: 12_800,
    batches: None,
};

const fn conv_gan(batch: &'static [u64]) -> TorchReference {
    TorchReference {
        script: "bench/reference/torch_conv_gan.py",
        images_per_repeat: 3_200,
        batches: Some(batch),
    }
}

const fn vae_at(batch: &'static [u64]) -> TorchReference {
    TorchReference {
        script: "bench/reference/torch_vae.py",
        images_per_repeat: 25_600,
        batches: Some(batch),
    }
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
                      init and BatchNorm, lr 2e-4, β1 0.5, batch 256, samples from an EMA of G",
        notice: None,
        reference: MLP_GAN,
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
        reference: MLP_GAN,
        build: tutorial,
    },
    Preset {
        name: "cgan",
        description: "mlp conditioned on the digit (one-hot beside G's noise, a projection \
                      discriminator), rates halving every 5,000 steps after 10,000 down to half; \
                      `gan generate --digit`",
        notice: None,
        reference: TorchReference {
            batches: Some(&[128]),
            ..MLP_GAN
        },
        build: cgan,
    },
    Preset {
        name: "dcgan",
        description: "DCGAN at half width: transposed-convolution G with BatchNorm, \
                      strided-convolution D, BCE with a gradient penalty 10, Adam 1e-3 (G) / \
                      5e-4 (D), batch 64; samples from an EMA of G",
        notice: None,
        reference: conv_gan(&[64]),
        build: dcgan,
    },
    Preset {
        name: "wgan-gp",
        description: "WGAN-GP on dcgan's networks: gradient penalty 10, 5 critic steps \
                      per G step, Adam 1e-3 with β1 0 / β2 0.9; samples from an EMA of G",
        notice: None,
        reference: conv_gan(&[64]),
        build: wgan_gp,
    },
    Preset {
        name: "vae",
        description: "variational autoencoder: MLP encoder and decoder, 16-d latent, \
                      Bernoulli pixels on the intensities; samples decode a 10-component \
                      Gaussian mixture fitted to the encoder's codes",
        notice: None,
        reference: vae_at(&[128]),
        build: vae,
    },
    Preset {
        name: "vae-binarized",
        description: "the literature's VAE protocol (Burda et al. 2015): dynamically \
                      binarized MNIST, 784-200-200-50 tanh MLPs; test NLL in nats",
        notice: None,
        reference: vae_at(&[100]),
        build: vae_binarized,
    },
    Preset {
        name: "cvae",
        description: "vae conditioned on the digit (one-hot into encoder and decoder); \
                      `gan generate --digit`",
        notice: None,
        reference: vae_at(&[128]),
        build: cvae,
    },
    Preset {
        name: "flow-mlp",
        description: "flow matching with a residual MLP denoiser (4 blocks of 512, the noise \
                      level by FiLM) predicting the clean image, logit-normal t, Heun's \
                      sampler in 25 steps denser near the data (49 network evaluations), an \
                      EMA of the weights; the CPU's diffusion model",
        notice: None,
        reference: TorchReference {
            script: "bench/reference/torch_flow.py",
            images_per_repeat: 12_800,
            batches: Some(&[256]),
        },
        build: flow_mlp,
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

/// What every preset starts from: 10,000 steps of batch 128, a 4×4 grid every 1,000 steps.
pub(super) fn run_defaults(preset: &str, scaling: Scaling, model: ModelConfig) -> TrainConfig {
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
        tensorboard: false,
        seed: 42,
        device: DeviceChoice::Auto,
        threads: 0,
        matmul: MatmulChoice::Auto,
        backprop: crate::backprop::Backprop::default(),
        grid: [4, 4],
        scaling,
        sampling: Sampling::WithReplacement,
        reflow: None,
        model,
    }
}

impl TrainConfig {
    /// The named preset's config; see [`crate::presets`].
    pub fn preset(name: &str) -> Result<TrainConfig, TrainError> {
        Ok(find(name)?.config())
    }
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
            let back: TrainConfig = toml::from_str(&config.to_toml().unwrap()).unwrap();
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
