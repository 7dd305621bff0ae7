//! The GAN family's settings and their checks.

use gan_models::{DiscriminatorConfig, GeneratorConfig};
use serde::{Deserialize, Serialize};

use crate::adam::AdamConfig;
use crate::ema::EmaConfig;
use crate::error::TrainError;
use crate::loss::GanLoss;
use crate::schedule::LrDecay;

/// Which BatchNorm statistics G uses when making the fakes of the D step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FakeMode {
    /// Running statistics, as Keras `predict` does (the tutorial).
    Inference,
    /// Batch statistics, as a PyTorch loop with `G.train()` does.
    Training,
}

/// How D learns from a step's real and fake batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiscriminatorUpdate {
    /// Two optimizer steps, on the real batch then on the fake one, as the tutorial's two
    /// `train_on_batch` calls.
    #[default]
    Separate,
    /// One optimizer step on the sum of both losses, as PyTorch's DCGAN example does.
    Joint,
}

impl DiscriminatorUpdate {
    fn is_separate(&self) -> bool {
        *self == DiscriminatorUpdate::Separate
    }
}

/// The GAN family's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GanConfig {
    pub fake_mode: FakeMode,
    #[serde(default, skip_serializing_if = "DiscriminatorUpdate::is_separate")]
    pub discriminator_update: DiscriminatorUpdate,
    pub generator_optimizer: AdamConfig,
    pub discriminator_optimizer: AdamConfig,
    /// What D and G minimise; the tutorial's BCE when absent.
    #[serde(default, skip_serializing_if = "GanLoss::is_non_saturating")]
    pub loss: GanLoss,
    /// Weight of a gradient penalty `(‖∇ₓ D(x̂)‖ − 1)²` at points between real and fake images,
    /// added to the non-saturating loss's D step (Kurach et al. 2019 found it helps that loss
    /// as well as the Wasserstein one, which carries its own weight in `loss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gradient_penalty: Option<f64>,
    /// D (critic) steps per G step: each training step is one D update on its own real
    /// batch, and every `n_critic`-th also updates G (PyTorch-GAN's WGAN-GP loop).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub n_critic: u32,
    /// Both optimizers' rates decay on this schedule when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_decay: Option<LrDecay>,
    /// An exponential moving average of G's weights, which samples when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_ema: Option<EmaConfig>,
    pub generator: GeneratorConfig,
    pub discriminator: DiscriminatorConfig,
}

fn one() -> u32 {
    1
}

fn is_one(value: &u32) -> bool {
    *value == 1
}

impl GanConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        self.generator_optimizer.validate()?;
        self.discriminator_optimizer.validate()?;
        if let Some(ema) = &self.generator_ema {
            ema.validate()?;
        }
        if let Some(decay) = &self.lr_decay {
            decay.validate()?;
        }
        self.generator.validate()?;
        self.discriminator.validate()?;
        self.loss.validate()?;
        if let Some(weight) = self.gradient_penalty {
            if !(weight.is_finite() && weight >= 0.0) {
                return Err(TrainError::invalid(
                    "gradient_penalty",
                    weight,
                    "must be a finite number ≥ 0",
                ));
            }
            if !self.loss.is_non_saturating() {
                return Err(TrainError::invalid(
                    "gradient_penalty",
                    weight,
                    "applies to the non-saturating loss; the Wasserstein loss takes its own \
                     (loss.gradient_penalty), hinge and least squares none",
                ));
            }
        }
        if self.n_critic == 0 || self.n_critic > 100 {
            return Err(TrainError::invalid(
                "n_critic",
                self.n_critic,
                "D steps per G step must be in 1..=100 (WGAN-GP uses 5)",
            ));
        }
        if self.penalty_weight().is_some() {
            if self.discriminator_update != DiscriminatorUpdate::Joint {
                return Err(TrainError::invalid(
                    "discriminator_update",
                    "separate",
                    "a gradient penalty scores real and fake images in one critic step: set discriminator_update = \"joint\"",
                ));
            }
            if self.discriminator.uses_batch_statistics() {
                return Err(TrainError::invalid(
                    "discriminator.norm",
                    "batch-norm",
                    "a gradient penalty needs each image's score to depend on that image alone: use layer-norm or none",
                ));
            }
        }
        if self.generator.conditional() != self.discriminator.conditional() {
            return Err(TrainError::invalid(
                "discriminator.conditional",
                self.discriminator.conditional(),
                format!(
                    "must equal generator.conditional ({}): a conditional GAN gives labels to both networks",
                    self.generator.conditional()
                ),
            ));
        }
        if self.generator.image_shape() != self.discriminator.image_shape() {
            return Err(TrainError::invalid(
                "discriminator.image_shape",
                format!("{:?}", self.discriminator.image_shape()),
                format!(
                    "must equal the generator's {:?}",
                    self.generator.image_shape()
                ),
            ));
        }
        Ok(())
    }

    /// The weight of the D step's gradient penalty, if it has one (the Wasserstein loss's or
    /// `gradient_penalty`).
    pub fn penalty_weight(&self) -> Option<f64> {
        self.loss.penalty_weight().or(self.gradient_penalty)
    }

    /// Whether a D update scores the real and the fake batch in one pass: when the update is
    /// joint and each image's score depends on that image alone (no batch statistics in D).
    pub(super) fn scores_batches_together(&self) -> bool {
        self.discriminator_update == DiscriminatorUpdate::Joint
            && !self.discriminator.uses_batch_statistics()
    }

    /// Whether steps at `batch_size` run both networks by hand (`by_hand`): both are chains,
    /// the loss is the non-saturating one without a gradient penalty, and D's update is two
    /// separate ones or one scoring both batches together.
    pub(crate) fn runs_by_hand(&self, batch_size: usize) -> bool {
        self.loss == GanLoss::NonSaturating
            && self.gradient_penalty.is_none()
            && (self.discriminator_update == DiscriminatorUpdate::Separate
                || self.scores_batches_together())
            && batch_size >= 2
            && self.generator.runs_as_chain()
            && self.discriminator.runs_as_chain()
    }
}
