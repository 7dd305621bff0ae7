//! Every model family, registered in one place: [`ModelConfig`] (a family's settings, tagged
//! by `family` in TOML) is generated from the list at the bottom, and everything else reads
//! a family through [`FamilyConfig`]. Adding a family is a module with its config (which
//! implements [`FamilyConfig`]) and its [`super::Family`], and one line in that list.

use gan_models::OutputActivation;
use serde::{Deserialize, Serialize};

use super::{BuildContext, Family, Metric};
use crate::error::TrainError;

/// What the rest of the code needs of a family's settings.
pub trait FamilyConfig {
    /// The family, its weights drawn from the context's seed.
    fn build(&self, context: &BuildContext) -> Result<Box<dyn Family>, TrainError>;
    /// Checks every setting; the error names the field.
    fn validate(&self) -> Result<(), TrainError>;
    /// What a step reports, in order.
    fn metrics(&self) -> &'static [Metric];
    /// The last nonlinearity of what samples, which fixes how data must be scaled.
    fn output(&self) -> OutputActivation;
    fn latent_dim(&self) -> i64;
    /// Trains on labelled images and samples a requested class.
    fn conditional(&self) -> bool;
    fn image_shape(&self) -> [i64; 3];
    /// Sets the learning rate of every optimizer (`gan train --lr`).
    fn set_learning_rate(&mut self, lr: f64);
    /// Makes samples decode draws of the prior training used where the config fits another
    /// one for sampling (a VAE's `prior = fitted-mixture`); false when it already does.
    fn sample_training_prior(&mut self) -> bool {
        false
    }
    /// Sets how many steps sampling takes and, for a conditional model, its guidance weight
    /// (`gan generate --sample-steps`, `--guidance`); false, and nothing changes, for a
    /// family that samples in one pass.
    fn set_sampling(&mut self, steps: Option<u32>, guidance: Option<f64>) -> bool {
        let _ = (steps, guidance);
        false
    }
    /// Network evaluations a sample takes (a diffusion model's sampler steps, doubled by
    /// Heun and by guidance).
    fn evaluations_per_image(&self) -> u32 {
        1
    }
    /// Readies a trained model's config to learn again from pairs of noise and the images it
    /// made of that noise ([`crate::reflow`]), and to sample in few steps; refused by a
    /// family that cannot.
    fn prepare_reflow(&mut self) -> Result<(), TrainError> {
        Err(TrainError::invalid(
            "reflow",
            "this model",
            "only a flow (family diffusion with a flow objective) learns from its own pairs",
        ))
    }
    /// Trains on [`super::Batch::noise`] when a batch carries it.
    fn learns_from_pairs(&self) -> bool {
        false
    }
    /// How samples are drawn, where there is a choice (a diffusion model's sampler and
    /// steps), for what commands print about a generator.
    fn describe_sampling(&self) -> Option<String> {
        None
    }
}

/// The registry: `Variant(Config) = "name"` per family generates [`ModelConfig`]'s variant
/// (spelled `name` in TOML) and its arm in every dispatch.
macro_rules! families {
    ($( $(#[$attr:meta])* $variant:ident($config:ty) = $name:literal, )*) => {
        /// A family and its settings, tagged by `family` in TOML: one variant per registered
        /// family (see the module docs).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "family")]
        pub enum ModelConfig {
            $( $(#[$attr])* #[serde(rename = $name)] $variant($config), )*
        }

        impl ModelConfig {
            /// The registered families' names, as configs spell them.
            // Pushed one by one: an entry may carry a `cfg`, which `vec![]` cannot.
            #[allow(clippy::vec_init_then_push)]
            pub fn families() -> Vec<&'static str> {
                let mut names = Vec::new();
                $( $(#[$attr])* names.push($name); )*
                names
            }

            /// The family's name, as configs spell it.
            pub fn name(&self) -> &'static str {
                match self {
                    $( $(#[$attr])* ModelConfig::$variant(_) => $name, )*
                }
            }

            /// The family's settings.
            pub fn family(&self) -> &dyn FamilyConfig {
                match self {
                    $( $(#[$attr])* ModelConfig::$variant(c) => c, )*
                }
            }

            pub fn family_mut(&mut self) -> &mut dyn FamilyConfig {
                match self {
                    $( $(#[$attr])* ModelConfig::$variant(c) => c, )*
                }
            }
        }
    };
}

families! {
    Gan(super::GanConfig) = "gan",
    Vae(super::VaeConfig) = "vae",
    Diffusion(super::DiffusionConfig) = "diffusion",
    #[cfg(test)]
    Toy(super::toy::ToyConfig) = "toy",
}

impl ModelConfig {
    pub fn build(&self, context: &BuildContext) -> Result<Box<dyn Family>, TrainError> {
        self.family().build(context)
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        self.family().validate()
    }

    pub fn metrics(&self) -> &'static [Metric] {
        self.family().metrics()
    }

    /// The last nonlinearity of what samples, which fixes how data must be scaled.
    pub fn output(&self) -> OutputActivation {
        self.family().output()
    }

    pub fn latent_dim(&self) -> i64 {
        self.family().latent_dim()
    }

    /// Trains on labelled images and samples a requested class.
    pub fn conditional(&self) -> bool {
        self.family().conditional()
    }

    pub fn image_shape(&self) -> [i64; 3] {
        self.family().image_shape()
    }

    /// See [`FamilyConfig::set_learning_rate`].
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.family_mut().set_learning_rate(lr)
    }

    /// See [`FamilyConfig::set_sampling`].
    pub fn set_sampling(&mut self, steps: Option<u32>, guidance: Option<f64>) -> bool {
        self.family_mut().set_sampling(steps, guidance)
    }

    /// See [`FamilyConfig::describe_sampling`].
    pub fn describe_sampling(&self) -> Option<String> {
        self.family().describe_sampling()
    }

    /// See [`FamilyConfig::sample_training_prior`].
    pub fn sample_training_prior(&mut self) -> bool {
        self.family_mut().sample_training_prior()
    }
}
