//! Helpers shared by this crate's unit tests.

use gan_data::{Images, Split};
use gan_models::mlp::{MlpDiscriminatorConfig, MlpGeneratorConfig};
use gan_models::{DiscriminatorConfig, GeneratorConfig};

use crate::config::{DeviceChoice, TrainConfig};
use crate::family::{GanConfig, ModelConfig, VaeConfig};

/// The GAN settings of a config.
pub(crate) fn gan(config: &mut TrainConfig) -> &mut GanConfig {
    match &mut config.model {
        ModelConfig::Gan(gan) => gan,
        _ => panic!("{} is not a GAN preset", config.preset),
    }
}

/// The VAE settings of a config.
pub(crate) fn vae(config: &mut TrainConfig) -> &mut VaeConfig {
    match &mut config.model {
        ModelConfig::Vae(vae) => vae,
        _ => panic!("{} is not a VAE preset", config.preset),
    }
}

/// The diffusion settings of a config.
pub(crate) fn diffusion(config: &mut TrainConfig) -> &mut crate::family::DiffusionConfig {
    match &mut config.model {
        ModelConfig::Diffusion(diffusion) => diffusion,
        _ => panic!("{} is not a diffusion preset", config.preset),
    }
}

/// The MLP generator of a GAN config.
pub(crate) fn mlp_generator(config: &mut TrainConfig) -> &mut MlpGeneratorConfig {
    match &mut gan(config).generator {
        GeneratorConfig::Mlp(g) => g,
        GeneratorConfig::Conv(_) => panic!("not an MLP generator"),
    }
}

/// The MLP discriminator of a GAN config.
pub(crate) fn mlp_discriminator(config: &mut TrainConfig) -> &mut MlpDiscriminatorConfig {
    match &mut gan(config).discriminator {
        DiscriminatorConfig::Mlp(d) => d,
        DiscriminatorConfig::Conv(_) => {
            panic!("not an MLP discriminator")
        }
    }
}

/// A preset's structure at a tenth of the width, for fast tests.
pub(crate) fn small_config(preset: &str) -> TrainConfig {
    let mut c = TrainConfig::preset(preset).unwrap();
    if let ModelConfig::Vae(model) = &mut c.model {
        use gan_models::vae::{DecoderConfig, EncoderConfig};
        if let EncoderConfig::Mlp(e) = &mut model.encoder {
            e.hidden = vec![32, 16];
        }
        if let DecoderConfig::Mlp(d) = &mut model.decoder {
            d.hidden = vec![16, 32];
        }
        model.latent_dim = 4;
        model.eval_importance_samples = 16;
    } else if let ModelConfig::Diffusion(model) = &mut c.model {
        let gan_models::diffusion::DenoiserConfig::Mlp(denoiser) = &mut model.denoiser;
        (denoiser.width, denoiser.blocks, denoiser.time_features) = (32, 2, 16);
        model.sampling.steps = 4;
    } else {
        let model = gan(&mut c);
        match &mut model.generator {
            GeneratorConfig::Mlp(g) => g.hidden = vec![16, 32],
            GeneratorConfig::Conv(g) => g.channels = vec![8, 4],
        }
        match &mut model.discriminator {
            DiscriminatorConfig::Mlp(d) => d.hidden = vec![32, 16],
            DiscriminatorConfig::Conv(d) => d.channels = vec![4, 8],
        }
    }
    c.batch_size = 16;
    c.steps = 40;
    c.sample_every = 10;
    c.checkpoint_every = 20;
    c.device = DeviceChoice::Cpu;
    c.threads = 1;
    c
}

/// Digits-like blobs: bright squares at a few positions.
pub(crate) fn toy_images(count: usize) -> Images {
    let mut pixels = vec![0u8; count * 784];
    for i in 0..count {
        let (r0, c0) = (4 + (i % 3) * 6, 4 + (i % 4) * 5);
        for r in r0..r0 + 8 {
            for c in c0..c0 + 8 {
                pixels[i * 784 + r * 28 + c] = 255;
            }
        }
    }
    Images {
        count,
        rows: 28,
        cols: 28,
        pixels,
    }
}

/// [`toy_images`] with labels cycling through the ten digits.
pub(crate) fn toy_data(count: usize) -> Split {
    Split {
        images: toy_images(count),
        labels: (0..count).map(|i| (i % 10) as u8).collect(),
    }
}
