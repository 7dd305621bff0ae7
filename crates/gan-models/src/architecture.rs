//! Architectures chosen by the `kind` field of [`GeneratorConfig`] and
//! [`DiscriminatorConfig`]; adding one is a module with its config and networks plus a
//! variant here.

use serde::{Deserialize, Serialize};
use tch::nn;

use crate::config::OutputActivation;
use crate::conv::{ConvDiscriminator, ConvDiscriminatorConfig, ConvGenerator, ConvGeneratorConfig};
use crate::error::ModelError;
use crate::mlp::{MlpDiscriminator, MlpDiscriminatorConfig, MlpGenerator, MlpGeneratorConfig};
use crate::network::{Discriminator, Generator};

/// A generator architecture and its settings, tagged by `kind` in TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum GeneratorConfig {
    Mlp(MlpGeneratorConfig),
    Conv(ConvGeneratorConfig),
}

/// A discriminator (critic) architecture and its settings, tagged by `kind` in TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DiscriminatorConfig {
    Mlp(MlpDiscriminatorConfig),
    Conv(ConvDiscriminatorConfig),
}

impl GeneratorConfig {
    /// The network under `p`, its weights drawn from `seed`.
    pub fn build(&self, p: &nn::Path, seed: u64) -> Result<Box<dyn Generator>, ModelError> {
        match self {
            GeneratorConfig::Mlp(c) => Ok(Box::new(MlpGenerator::new(p, c, seed)?)),
            GeneratorConfig::Conv(c) => Ok(Box::new(ConvGenerator::new(p, c, seed)?)),
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        match self {
            GeneratorConfig::Mlp(c) => c.validate(),
            GeneratorConfig::Conv(c) => c.validate(),
        }
    }

    pub fn latent_dim(&self) -> i64 {
        match self {
            GeneratorConfig::Mlp(c) => c.latent_dim,
            GeneratorConfig::Conv(c) => c.latent_dim,
        }
    }

    pub fn image_shape(&self) -> [i64; 3] {
        match self {
            GeneratorConfig::Mlp(c) => c.image_shape,
            GeneratorConfig::Conv(c) => c.image_shape,
        }
    }

    /// Takes class labels with its noise.
    pub fn conditional(&self) -> bool {
        match self {
            GeneratorConfig::Mlp(c) => c.conditional,
            GeneratorConfig::Conv(c) => c.conditional,
        }
    }

    /// Whether the network runs as a [`crate::manual::Chain`] on the CPU.
    pub fn runs_as_chain(&self) -> bool {
        match self {
            GeneratorConfig::Mlp(c) => c.runs_as_chain(),
            GeneratorConfig::Conv(_) => false,
        }
    }

    /// The last nonlinearity, which fixes the range the data must be scaled to.
    pub fn output(&self) -> OutputActivation {
        match self {
            GeneratorConfig::Mlp(c) => c.output,
            GeneratorConfig::Conv(c) => c.output,
        }
    }
}

impl DiscriminatorConfig {
    /// The network under `p`, its weights drawn from `seed`.
    pub fn build(&self, p: &nn::Path, seed: u64) -> Result<Box<dyn Discriminator>, ModelError> {
        match self {
            DiscriminatorConfig::Mlp(c) => Ok(Box::new(MlpDiscriminator::new(p, c, seed)?)),
            DiscriminatorConfig::Conv(c) => Ok(Box::new(ConvDiscriminator::new(p, c, seed)?)),
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        match self {
            DiscriminatorConfig::Mlp(c) => c.validate(),
            DiscriminatorConfig::Conv(c) => c.validate(),
        }
    }

    pub fn image_shape(&self) -> [i64; 3] {
        match self {
            DiscriminatorConfig::Mlp(c) => c.image_shape,
            DiscriminatorConfig::Conv(c) => c.image_shape,
        }
    }

    /// Takes the class label of each image.
    pub fn conditional(&self) -> bool {
        match self {
            DiscriminatorConfig::Mlp(c) => c.conditional,
            DiscriminatorConfig::Conv(c) => c.conditional,
        }
    }

    /// Whether the network runs as a [`crate::manual::Chain`] on the CPU.
    pub fn runs_as_chain(&self) -> bool {
        match self {
            DiscriminatorConfig::Mlp(c) => c.runs_as_chain(),
            DiscriminatorConfig::Conv(_) => false,
        }
    }

    /// Scores depend on the other images of the batch (BatchNorm), which a gradient penalty
    /// cannot allow.
    pub fn uses_batch_statistics(&self) -> bool {
        match self {
            DiscriminatorConfig::Mlp(_) => false,
            DiscriminatorConfig::Conv(c) => c.uses_batch_statistics(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_carry_their_kind_in_toml() {
        let g = GeneratorConfig::Mlp(MlpGeneratorConfig::mlp());
        let text = toml::to_string(&g).unwrap();
        assert!(text.starts_with("kind = \"mlp\""), "{text}");
        assert_eq!(toml::from_str::<GeneratorConfig>(&text).unwrap(), g);
        let err = toml::from_str::<GeneratorConfig>(&text.replace("\"mlp\"", "\"conv9\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("conv9"), "{err}");
        let bad = text.replace("latent_dim", "latent_size");
        assert!(toml::from_str::<GeneratorConfig>(&bad).is_err());
        let d = DiscriminatorConfig::Mlp(MlpDiscriminatorConfig::mlp());
        let text = toml::to_string(&d).unwrap();
        assert_eq!(toml::from_str::<DiscriminatorConfig>(&text).unwrap(), d);
    }

    /// A network is a chain exactly where its config says it runs as one (on the CPU).
    #[test]
    fn configs_know_which_networks_are_chains() {
        use crate::config::Activation;
        use crate::execution::Execution;
        use crate::manual::Chain;
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let (mut conditional_g, mut tanh_g) =
            (MlpGeneratorConfig::mlp(), MlpGeneratorConfig::mlp());
        conditional_g.conditional = true;
        tanh_g.activation = Activation::Tanh;
        let (mut conditional_d, mut tanh_d) =
            (MlpDiscriminatorConfig::mlp(), MlpDiscriminatorConfig::mlp());
        conditional_d.conditional = true;
        tanh_d.activation = Activation::Tanh;
        let generators = [
            GeneratorConfig::Mlp(MlpGeneratorConfig::tutorial()),
            GeneratorConfig::Mlp(MlpGeneratorConfig::mlp()),
            GeneratorConfig::Mlp(conditional_g),
            GeneratorConfig::Mlp(tanh_g),
            GeneratorConfig::Conv(ConvGeneratorConfig::dcgan()),
        ];
        let discriminators = [
            DiscriminatorConfig::Mlp(MlpDiscriminatorConfig::tutorial()),
            DiscriminatorConfig::Mlp(MlpDiscriminatorConfig::mlp()),
            DiscriminatorConfig::Mlp(conditional_d),
            DiscriminatorConfig::Mlp(tanh_d),
            DiscriminatorConfig::Conv(ConvDiscriminatorConfig::dcgan()),
        ];
        // (what the config says, whether the built network is a chain), G's then D's.
        let mut seen = Vec::new();
        let hand_run = Execution::new(crate::MatmulKernel::Blas, true);
        for (i, config) in generators.iter().enumerate() {
            let p = vs.root() / format!("g{i}");
            let built = hand_run.run(|| {
                config.build(&p, 1).unwrap();
                Chain::of_generator(config, &p).is_some()
            });
            assert!(
                Chain::of_generator(config, &p).is_none(),
                "only when allowed"
            );
            seen.push((config.runs_as_chain(), built));
        }
        for (i, config) in discriminators.iter().enumerate() {
            let p = vs.root() / format!("d{i}");
            let built = hand_run.run(|| {
                config.build(&p, 1).unwrap();
                Chain::of_discriminator(config, &p).is_some()
            });
            assert!(
                Chain::of_discriminator(config, &p).is_none(),
                "only when allowed"
            );
            seen.push((config.runs_as_chain(), built));
        }
        let expected = [true, true, false, false, false];
        let said: Vec<bool> = seen.iter().map(|&(said, _)| said).collect();
        assert_eq!(said, [expected, expected].concat());
        assert!(seen.iter().all(|&(said, built)| said == built), "{seen:?}");
    }
}
