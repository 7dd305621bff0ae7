//! Files of the first release, read and converted: its `config.toml` (one GAN with
//! `generator`, `discriminator`, `adam` and `fake_mode` at the top level). Its checkpoints
//! (manifest format 1) are read by [`crate::checkpoint`]: their tensor names are the GAN
//! family's.

use gan_data::{Sampling, Scaling};
use gan_models::mlp::{MlpDiscriminatorConfig, MlpGeneratorConfig};
use gan_models::{DiscriminatorConfig, GeneratorConfig, MatmulChoice};
use serde::Deserialize;

use crate::adam::AdamConfig;
use crate::config::{default_eval_samples, DeviceChoice, TrainConfig};
use crate::family::{FakeMode, GanConfig, ModelConfig};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FirstReleaseConfig {
    preset: String,
    steps: u64,
    batch_size: usize,
    sample_every: u64,
    checkpoint_every: u64,
    keep_checkpoints: usize,
    #[serde(default)]
    eval_every: u64,
    #[serde(default = "default_eval_samples")]
    eval_samples: usize,
    seed: u64,
    device: DeviceChoice,
    threads: usize,
    #[serde(default)]
    matmul: MatmulChoice,
    grid: [usize; 2],
    scaling: Scaling,
    sampling: Sampling,
    fake_mode: FakeMode,
    adam: AdamConfig,
    generator: MlpGeneratorConfig,
    discriminator: MlpDiscriminatorConfig,
}

/// True for a config of the first release: networks at the top level, no `model` table.
pub(crate) fn is_legacy_config(text: &str) -> bool {
    toml::from_str::<toml::Table>(text)
        .is_ok_and(|t| !t.contains_key("model") && t.contains_key("generator"))
}

/// The same run in today's layout: one Adam config for both networks, no EMA.
pub(crate) fn convert_config(text: &str) -> Result<TrainConfig, String> {
    let old: FirstReleaseConfig = toml::from_str(text).map_err(|e| {
        format!(
            "{e}\n(this looks like a config of the first release, with `generator` at the top \
             level; fix the field named above, or start from `gan train --preset` and copy \
             your values into its config.toml)"
        )
    })?;
    Ok(TrainConfig {
        preset: old.preset,
        steps: old.steps,
        minutes: None,
        batch_size: old.batch_size,
        sample_every: old.sample_every,
        checkpoint_every: old.checkpoint_every,
        keep_checkpoints: old.keep_checkpoints,
        eval_every: old.eval_every,
        eval_samples: old.eval_samples,
        tensorboard: false,
        seed: old.seed,
        device: old.device,
        threads: old.threads,
        matmul: old.matmul,
        backprop: crate::backprop::Backprop::before_fused(),
        grid: old.grid,
        scaling: old.scaling,
        sampling: old.sampling,
        reflow: None,
        model: ModelConfig::Gan(GanConfig {
            fake_mode: old.fake_mode,
            discriminator_update: Default::default(),
            loss: Default::default(),
            n_critic: 1,
            gradient_penalty: None,
            lr_decay: None,
            generator_optimizer: old.adam,
            discriminator_optimizer: old.adam,
            generator_ema: None,
            generator: GeneratorConfig::Mlp(old.generator),
            discriminator: DiscriminatorConfig::Mlp(old.discriminator),
        }),
    })
}
