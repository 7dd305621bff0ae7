//! The GAN family: a generator and a discriminator (critic) trained against each other, in
//! the tutorial's loop (D on a real batch, D on a fake batch, G through D), each with its
//! own Adam and, for G, optionally an EMA of its weights. The loss is configurable
//! ([`GanLoss`]: the tutorial's BCE, hinge, least squares, WGAN-GP), and D may take several
//! steps per G step (`n_critic`).

use gan_data::rng::stream_seed;
use gan_data::DeviceRng;
use gan_models::conditioning::balanced_labels;
use gan_models::conditioning::CLASSES;
use gan_models::matmul_tuning::{ProductRole::*, StepProduct};
use gan_models::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, Summary, Tape};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::{Backprop, Batch, BuildContext, Family, Metric, SampleWeights, StepProducts};
use crate::adam::AdamConfig;
use crate::ema::{EmaConfig, EmaNormalization};
use crate::error::TrainError;
use crate::loss::{accuracy, gradient_penalty, GanLoss};
use crate::part::Part;
use crate::schedule::LrDecay;

mod by_hand;

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

/// The non-saturating (BCE) loss's metrics.
pub(super) const METRICS: &[Metric] = &[
    Metric {
        key: "d_loss",
        label: "D loss",
        panel: "loss (BCE)",
        percent: false,
    },
    Metric {
        key: "d_acc",
        label: "D acc",
        panel: "D accuracy",
        percent: true,
    },
    Metric {
        key: "g_loss",
        label: "G loss",
        panel: "loss (BCE)",
        percent: false,
    },
];

/// The non-saturating loss's metrics with a gradient penalty.
const PENALIZED_METRICS: &[Metric] = &[METRICS[0], METRICS[1], PENALTY, METRICS[2]];

const PENALTY: Metric = Metric {
    key: "penalty",
    label: "GP",
    panel: "gradient penalty (unweighted)",
    percent: false,
};

const fn g_loss(panel: &'static str) -> Metric {
    Metric {
        key: "g_loss",
        label: "G loss",
        panel,
        percent: false,
    }
}

const HINGE_METRICS: &[Metric] = &[
    Metric {
        key: "d_loss",
        label: "D loss",
        panel: "loss (hinge)",
        percent: false,
    },
    g_loss("loss (hinge)"),
];

const LEAST_SQUARES_METRICS: &[Metric] = &[
    Metric {
        key: "d_loss",
        label: "D loss",
        panel: "loss (least squares)",
        percent: false,
    },
    g_loss("loss (least squares)"),
];

const WASSERSTEIN_METRICS: &[Metric] = &[
    Metric {
        key: "critic_loss",
        label: "critic loss",
        panel: "loss (Wasserstein)",
        percent: false,
    },
    Metric {
        key: "wasserstein",
        label: "W estimate",
        panel: "E[D(real)] − E[D(fake)]",
        percent: false,
    },
    PENALTY,
    g_loss("loss (Wasserstein)"),
];

/// Random streams of a run's seed. Step `s` draws its noise from stream `s`; these sit far
/// above any step.
const GENERATOR_INIT_STREAM: u64 = u64::MAX - 1;
const DISCRIMINATOR_INIT_STREAM: u64 = u64::MAX - 2;
const EMA_NORMALIZATION_STREAM: u64 = u64::MAX - 3;
/// The seed of the generator whose stream `s` draws step `s`'s interpolation coefficients.
const PENALTY_STREAM: u64 = u64::MAX - 4;

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
    fn scores_batches_together(&self) -> bool {
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

    /// What a step reports, which depends on the loss.
    pub fn metrics(&self) -> &'static [Metric] {
        match self.loss {
            GanLoss::NonSaturating if self.gradient_penalty.is_some() => PENALIZED_METRICS,
            GanLoss::NonSaturating => METRICS,
            GanLoss::Hinge => HINGE_METRICS,
            GanLoss::LeastSquares => LEAST_SQUARES_METRICS,
            GanLoss::Wasserstein { .. } => WASSERSTEIN_METRICS,
        }
    }

    /// Per step (one D update, and a G update every `n_critic` steps, averaged): G forward
    /// for the fakes and again in its update; in each D update, D forward on the real and the
    /// fake batch (one pass over both together when the update is joint and D has no batch
    /// statistics, see `GanFamily::score_both`) with a weight and an input gradient per pass
    /// (no input gradient for the first layer); a gradient penalty adds a D forward and about
    /// three D backward passes, counted as such; the G update adds a D forward and input
    /// gradients of every D layer (the gradient flows into G's images).
    pub fn step_products(&self, b: i64) -> StepProducts {
        let (pass_batch, passes) = if self.scores_batches_together() {
            (2 * b, 1)
        } else {
            (b, 2)
        };
        let penalty = u32::from(self.penalty_weight().is_some());
        // Counts per n_critic steps, then divided (rounded up) into per-step counts.
        let n = self.n_critic;
        let per_step = |count: u32| count.div_ceil(n);
        let mut products = Vec::new();
        let mut push = |shape, count, role| products.push(StepProduct::new(shape, count, role));
        for (i, (rows, fan_in, fan_out)) in self.generator.gemm_shapes().into_iter().enumerate() {
            let m = b * rows;
            push((m, fan_in, fan_out), per_step(n + 1), Forward); // fakes, G update
            push((fan_out, m, fan_in), per_step(1), WeightGradient);
            if i > 0 {
                push((m, fan_out, fan_in), per_step(1), InputGradient);
            }
        }
        for (i, (rows, fan_in, fan_out)) in self.discriminator.gemm_shapes().into_iter().enumerate()
        {
            let has_input_gradient = u32::from(i > 0);
            let m = pass_batch * rows;
            push((m, fan_in, fan_out), per_step(n * passes), Forward);
            push((fan_out, m, fan_in), per_step(n * passes), WeightGradient);
            push(
                (m, fan_out, fan_in),
                per_step(n * passes * has_input_gradient),
                InputGradient,
            );
            let m = b * rows;
            let penalty_passes = n * 3 * penalty;
            push((m, fan_in, fan_out), per_step(n * penalty + 1), Forward);
            push(
                (fan_out, m, fan_in),
                per_step(penalty_passes),
                WeightGradient,
            );
            let input_grads = penalty_passes * has_input_gradient + 1;
            push((m, fan_out, fan_in), per_step(input_grads), InputGradient);
        }
        products.retain(|p| p.count > 0);
        products
    }
}

/// What one D update saw: its losses, and the scores (without gradients) of both batches.
struct CriticStep {
    real_loss: Tensor,
    fake_loss: Tensor,
    real_scores: Tensor,
    fake_scores: Tensor,
    /// The unweighted gradient penalty, for the Wasserstein loss.
    penalty: Option<Tensor>,
}

/// A generator, its EMA copy, a discriminator, and the labels of the loss.
pub struct GanFamily {
    config: GanConfig,
    device: Device,
    generator: Box<dyn Generator>,
    generator_part: Part,
    /// The network whose weights are the generator part's EMA.
    generator_ema: Option<Box<dyn Generator>>,
    discriminator: Box<dyn Discriminator>,
    discriminator_part: Part,
    rng: DeviceRng,
    /// Step `s`'s interpolation coefficients of the gradient penalty come from stream `s`.
    penalty_rng: DeviceRng,
    real_labels: Tensor,
    fake_labels: Tensor,
    /// Steps run both networks by hand ([`gan_models::manual`]) rather than through autograd.
    by_hand: bool,
}

impl GanFamily {
    pub fn new(config: &GanConfig, context: &BuildContext) -> Result<GanFamily, TrainError> {
        config.validate()?;
        let device = context.device;
        let g_seed = stream_seed(context.seed, GENERATOR_INIT_STREAM);
        let g_vs = VarStore::new(device);
        let mut generator = config.generator.build(&g_vs.root(), g_seed)?;
        generator.set_matmul(context.matmul);
        let (generator_ema, ema) = match config.generator_ema {
            Some(ema_config) => {
                let shadow_vs = VarStore::new(device);
                let mut shadow = config.generator.build(&shadow_vs.root(), g_seed)?;
                shadow.set_matmul(context.matmul);
                (Some(shadow), Some((shadow_vs, ema_config)))
            }
            None => (None, None),
        };
        let generator_part = Part::new("generator", g_vs, config.generator_optimizer, ema);
        let d_vs = VarStore::new(device);
        let mut discriminator = config.discriminator.build(
            &d_vs.root(),
            stream_seed(context.seed, DISCRIMINATOR_INIT_STREAM),
        )?;
        discriminator.set_matmul(context.matmul);
        let discriminator_part =
            Part::new("discriminator", d_vs, config.discriminator_optimizer, None);
        let labels_shape = [context.batch_size as i64, 1];
        let mut family = GanFamily {
            config: config.clone(),
            device,
            generator,
            generator_part,
            generator_ema,
            discriminator,
            discriminator_part,
            rng: DeviceRng::new(context.seed),
            penalty_rng: DeviceRng::new(stream_seed(context.seed, PENALTY_STREAM)),
            real_labels: Tensor::ones(labels_shape, (Kind::Float, device)),
            fake_labels: Tensor::zeros(labels_shape, (Kind::Float, device)),
            by_hand: false,
        };
        family.by_hand =
            context.backprop == Backprop::Fused && family.supports_by_hand(context.batch_size);
        Ok(family)
    }

    /// One Adam step of D on `images` (of `classes`, when conditional) as real or fake;
    /// returns the loss and the scores, measured before the update (as Keras'
    /// `train_on_batch` reports them).
    fn update_discriminator(
        &mut self,
        images: &Tensor,
        classes: Option<&Tensor>,
        real: bool,
    ) -> (Tensor, Tensor) {
        if self.by_hand {
            return self.update_discriminator_by_hand(images, real);
        }
        let tape = Tape::new();
        let scores = self.discriminator.forward(images, classes, Some(&tape));
        let loss = if real {
            self.config.loss.real(&scores)
        } else {
            self.config.loss.fake(&scores)
        };
        let grads = tape.gradients(&loss, self.discriminator_part.params());
        self.discriminator_part.apply_gradients(&grads);
        (loss, scores.detach())
    }

    /// Two Adam steps of D, on the real batch then on the fake one (the tutorial's two
    /// `train_on_batch` calls).
    fn update_discriminator_separately(
        &mut self,
        real: (&Tensor, Option<&Tensor>),
        fake: (&Tensor, Option<&Tensor>),
    ) -> CriticStep {
        let (real_loss, real_scores) = self.update_discriminator(real.0, real.1, true);
        let (fake_loss, fake_scores) = self.update_discriminator(fake.0, fake.1, false);
        CriticStep {
            real_loss,
            fake_loss,
            real_scores,
            fake_scores,
            penalty: None,
        }
    }

    /// One Adam step of D on the sum of its losses on `real` and `fake`, plus the gradient
    /// penalty when the loss has one (its coefficients drawn from `step`'s stream). With a
    /// penalty every gradient comes from autograd: the dense-layer tape cannot form the
    /// second derivatives the penalty's gradient needs.
    fn update_discriminator_jointly(
        &mut self,
        step: u64,
        real: (&Tensor, Option<&Tensor>),
        fake: (&Tensor, Option<&Tensor>),
    ) -> Result<CriticStep, TrainError> {
        if self.by_hand {
            return Ok(self.update_discriminator_jointly_by_hand(real.0, fake.0));
        }
        let loss_kind = self.config.loss;
        let penalty_weight = self.config.penalty_weight();
        let tape = Tape::new();
        let taped = penalty_weight.is_none().then_some(&tape);
        let (real_scores, fake_scores) = self.score_both(real, fake, taped);
        let real_loss = loss_kind.real(&real_scores);
        let fake_loss = loss_kind.fake(&fake_scores);
        let mut loss = &real_loss + &fake_loss;
        let penalty = match penalty_weight {
            Some(weight) => {
                let size = real.0.size()[0];
                let coefficients = self.penalty_rng.uniform(step, &[size], self.device)?;
                let discriminator = &self.discriminator;
                // Interpolates between a real image and a fake of the same class.
                let penalty = gradient_penalty(
                    |points| discriminator.forward(points, real.1, None),
                    real.0,
                    fake.0,
                    &coefficients,
                );
                loss += &penalty * weight;
                Some(penalty.detach())
            }
            None => None,
        };
        let grads = tape.gradients(&loss, self.discriminator_part.params());
        self.discriminator_part.apply_gradients(&grads);
        Ok(CriticStep {
            real_loss,
            fake_loss,
            real_scores: real_scores.detach(),
            fake_scores: fake_scores.detach(),
            penalty,
        })
    }

    /// D's scores of the real and the fake batch, in one pass through D when
    /// [`GanConfig::scores_batches_together`]: half the kernel calls, and larger products,
    /// for the same scores.
    fn score_both(
        &self,
        real: (&Tensor, Option<&Tensor>),
        fake: (&Tensor, Option<&Tensor>),
        tape: Option<&Tape>,
    ) -> (Tensor, Tensor) {
        if !self.config.scores_batches_together() {
            return (
                self.discriminator.forward(real.0, real.1, tape),
                self.discriminator.forward(fake.0, fake.1, tape),
            );
        }
        let images = Tensor::cat(&[real.0, fake.0], 0);
        let classes = real
            .1
            .zip(fake.1)
            .map(|(real, fake)| Tensor::cat(&[real, fake], 0));
        let scores = self.discriminator.forward(&images, classes.as_ref(), tape);
        let size = real.0.size()[0];
        let fakes = fake.0.size()[0];
        (scores.narrow(0, 0, size), scores.narrow(0, size, fakes))
    }

    /// The step's reported values, in [`GanConfig::metrics`] order.
    fn report(&self, critic: &CriticStep, g_loss: &Tensor) -> Vec<f64> {
        let value = |t: &Tensor| t.double_value(&[]);
        let (real_loss, fake_loss) = (value(&critic.real_loss), value(&critic.fake_loss));
        let g_loss = value(g_loss);
        match self.config.loss {
            GanLoss::NonSaturating => {
                let real_acc = accuracy(&critic.real_scores, &self.real_labels);
                let fake_acc = accuracy(&critic.fake_scores, &self.fake_labels);
                let mut values = vec![
                    0.5 * (real_loss + fake_loss),
                    0.5 * (value(&real_acc) + value(&fake_acc)),
                ];
                values.extend(critic.penalty.as_ref().map(value));
                values.push(g_loss);
                values
            }
            GanLoss::Hinge | GanLoss::LeastSquares => vec![0.5 * (real_loss + fake_loss), g_loss],
            GanLoss::Wasserstein { gradient_penalty } => {
                let penalty = critic.penalty.as_ref().map_or(0.0, value);
                vec![
                    real_loss + fake_loss + gradient_penalty * penalty,
                    -(real_loss + fake_loss),
                    penalty,
                    g_loss,
                ]
            }
        }
    }

    /// One Adam step of G through D with "real" labels. Gradients are taken with respect to
    /// G's parameters only (D is off the tape), so D stays untouched (the tutorial's frozen D).
    fn update_generator(&mut self, noise: &Tensor, classes: Option<&Tensor>) -> Tensor {
        if self.by_hand {
            return self.update_generator_by_hand(noise);
        }
        let tape = Tape::new();
        let images = self.generator.forward(noise, classes, true, Some(&tape));
        let scores = self.discriminator.forward(&images, classes, None);
        let loss = self.config.loss.generator(&scores);
        let grads = tape.gradients(&loss, self.generator_part.params());
        self.generator_part.apply_gradients(&grads);
        loss
    }
}

impl Family for GanFamily {
    fn metrics(&self) -> &'static [Metric] {
        self.config.metrics()
    }

    /// One iteration of the tutorial's loop:
    /// 1. a fake batch from G without gradients (noise of the step's stream);
    /// 2. a D update on the real batch as real, then a second D update on the fake batch as
    ///    fake (two optimizer steps, as two `train_on_batch` calls are; or one step on both
    ///    losses, and the gradient penalty, with [`DiscriminatorUpdate::Joint`]);
    /// 3. every `n_critic`-th step, a G update on fresh noise through D; only G's parameters
    ///    change. On other steps the G loss reported is G's loss on the step's fakes as D
    ///    scored them before its update, so every step reports every metric.
    ///
    /// Spectral norms advance one power iteration first. A conditional GAN gives D the real
    /// batch's classes and draws its fakes' classes balanced (every class equally often,
    /// rotating with the step); with a gradient penalty the fakes of D's step take the real
    /// batch's classes, so that each interpolate lies between two images of one class.
    fn step(&mut self, batch: &Batch) -> Result<Vec<f64>, TrainError> {
        if let Some(decay) = &self.config.lr_decay {
            let factor = decay.factor(batch.step);
            self.generator_part.scale_learning_rate(factor);
            self.discriminator_part.scale_learning_rate(factor);
        }
        self.discriminator.power_iteration();
        let size = batch.images.size()[0];
        let latent = self.generator.latent_dim();
        // Both noise batches of the step in one draw: [0] for the fakes, [1] for the G update.
        let noise = self
            .rng
            .normal(batch.step, &[2, size, latent], self.device)?;
        let (real_classes, generated_classes) = match (self.generator.conditional(), &batch.labels)
        {
            (false, _) => (None, None),
            (true, Some(labels)) => {
                let offset = (batch.step % CLASSES as u64) as i64 * size;
                (
                    Some(labels),
                    Some(balanced_labels(size, offset, self.device)),
                )
            }
            (true, None) => {
                return Err(TrainError::invalid(
                    "data",
                    "images without labels",
                    "a conditional GAN trains on labelled images",
                ))
            }
        };
        let fake_classes = match self.config.penalty_weight() {
            Some(_) => real_classes,
            None => generated_classes.as_ref(),
        };
        let fake_in_training_mode = self.config.fake_mode == FakeMode::Training;
        let fake = if self.by_hand {
            self.fakes_by_hand(&noise.get(0), fake_in_training_mode)
        } else {
            tch::no_grad(|| {
                self.generator
                    .forward(&noise.get(0), fake_classes, fake_in_training_mode, None)
            })
        };
        let real = (&batch.images, real_classes);
        let critic = match self.config.discriminator_update {
            DiscriminatorUpdate::Separate => {
                self.update_discriminator_separately(real, (&fake, fake_classes))
            }
            DiscriminatorUpdate::Joint => {
                self.update_discriminator_jointly(batch.step, real, (&fake, fake_classes))?
            }
        };
        let updates_generator = (batch.step + 1) % u64::from(self.config.n_critic) == 0;
        let g_loss = if updates_generator {
            self.update_generator(&noise.get(1), generated_classes.as_ref())
        } else {
            self.config.loss.generator(&critic.fake_scores)
        };
        Ok(self.report(&critic, &g_loss))
    }

    fn generate(&self, noise: &Tensor, labels: Option<&Tensor>, weights: SampleWeights) -> Tensor {
        let network = match (weights, &self.generator_ema) {
            (SampleWeights::Ema, Some(shadow)) => {
                self.sync_ema();
                shadow
            }
            _ => &self.generator,
        };
        tch::no_grad(|| network.forward(noise, labels, false, None))
    }

    fn latent_dim(&self) -> i64 {
        self.generator.latent_dim()
    }

    fn conditional(&self) -> bool {
        self.generator.conditional()
    }

    fn parts(&self) -> Vec<&Part> {
        vec![&self.generator_part, &self.discriminator_part]
    }

    fn parts_mut(&mut self) -> Vec<&mut Part> {
        vec![&mut self.generator_part, &mut self.discriminator_part]
    }

    fn sync_ema(&self) {
        let (Some(shadow), Some(ema)) = (&self.generator_ema, self.generator_part.ema()) else {
            return;
        };
        if ema.config().normalization == EmaNormalization::Estimate && ema.is_stale() {
            let samples = shadow.normalization_samples();
            let z = self
                .rng
                .normal(
                    EMA_NORMALIZATION_STREAM,
                    &[samples, shadow.latent_dim()],
                    self.device,
                )
                .expect("a normal draw on the family's own device");
            // Every class equally often, so each class's activations shape the statistics.
            let labels = shadow
                .conditional()
                .then(|| balanced_labels(samples, 0, self.device));
            shadow.estimate_normalization(&z, labels.as_ref());
            ema.mark_fresh();
        }
    }

    fn summaries(&self) -> Vec<Summary> {
        vec![
            Summary::new(
                "generator",
                self.generator.layers(),
                self.generator_part.vars(),
            ),
            Summary::new(
                "discriminator",
                self.discriminator.layers(),
                self.discriminator_part.vars(),
            ),
        ]
    }

    fn matmul(&self) -> gan_models::MatmulKernel {
        self.generator.matmul()
    }

    fn backprop(&self) -> Backprop {
        if self.by_hand {
            Backprop::Fused
        } else {
            Backprop::Autograd
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{gan, small_config, toy_images};
    use gan_models::weights::named_tensors;

    fn family(preset: &str) -> GanFamily {
        family_with(preset, DiscriminatorUpdate::Separate)
    }

    fn family_with(preset: &str, update: DiscriminatorUpdate) -> GanFamily {
        edited(preset, |g| g.discriminator_update = update)
    }

    /// A small `preset` with `edit` applied to its GAN settings, seed 3, batch 16.
    fn edited(preset: &str, edit: impl FnOnce(&mut GanConfig)) -> GanFamily {
        let mut c = small_config(preset);
        edit(gan(&mut c));
        let matmul = c.matmul.resolve(Device::Cpu).unwrap();
        let context = BuildContext {
            device: Device::Cpu,
            seed: 3,
            batch_size: 16,
            matmul,
            backprop: Backprop::default(),
        };
        GanFamily::new(gan(&mut c), &context).unwrap()
    }

    fn snapshot(vs: &VarStore) -> Vec<(String, Tensor)> {
        named_tensors(vs, "")
            .into_iter()
            .map(|(n, t)| (n, t.copy()))
            .collect()
    }

    fn changed(before: &[(String, Tensor)], vs: &VarStore) -> Vec<String> {
        let now = vs.variables();
        before
            .iter()
            .filter(|(n, t)| !now[n].equal(t))
            .map(|(n, _)| n.clone())
            .collect()
    }

    #[test]
    fn d_update_changes_only_d_and_g_update_changes_only_g() {
        let mut f = family("tutorial");
        let real = toy_images(16)
            .to_tensor(gan_data::Scaling::ZeroOne, Device::Cpu)
            .unwrap();
        let (g0, d0) = (
            snapshot(f.generator_part.vars()),
            snapshot(f.discriminator_part.vars()),
        );
        let _ = f.update_discriminator(&real, None, true);
        assert!(
            changed(&g0, f.generator_part.vars()).is_empty(),
            "D step touched G"
        );
        assert_eq!(
            changed(&d0, f.discriminator_part.vars()).len(),
            d0.len(),
            "D step must move every D parameter"
        );

        let (g1, d1) = (
            snapshot(f.generator_part.vars()),
            snapshot(f.discriminator_part.vars()),
        );
        let noise = Tensor::randn([16, 100], (Kind::Float, Device::Cpu));
        let _ = f.update_generator(&noise, None);
        assert!(
            changed(&d1, f.discriminator_part.vars()).is_empty(),
            "G step touched D"
        );
        let moved = changed(&g1, f.generator_part.vars());
        assert!(
            moved.iter().any(|n| n == "fc1.weight")
                && moved.iter().any(|n| n == "bn1.running_mean")
        );
    }

    /// A `dcgan` critic, with BatchNorm after its inner convolutions when `batch_norm`.
    fn critic(batch_norm: bool) -> GanFamily {
        edited("dcgan", |g| {
            let DiscriminatorConfig::Conv(d) = &mut g.discriminator else {
                panic!("dcgan's critic is convolutional")
            };
            if batch_norm {
                g.gradient_penalty = None;
                d.norm = gan_models::conv::CriticNorm::BatchNorm {
                    momentum: 0.1,
                    eps: 1e-5,
                };
            }
        })
    }

    /// A D whose scores are per image scores the real and the fake batch in one pass, as it
    /// would score them apart (up to the rounding of larger products); a D with BatchNorm,
    /// whose scores a mixed batch would change, scores each batch on its own.
    #[test]
    fn both_batches_score_in_one_pass_as_apart() {
        let real = toy_images(16)
            .to_tensor(gan_data::Scaling::MinusOneToOne, Device::Cpu)
            .unwrap();
        let fake = real.flip([3]);
        let gap = |a: &Tensor, b: &Tensor| (a - b).abs().max().double_value(&[]);
        for batch_norm in [false, true] {
            let f = critic(batch_norm);
            let (real_scores, fake_scores) = f.score_both((&real, None), (&fake, None), None);
            let apart = [&real, &fake].map(|x| f.discriminator.forward(x, None, None));
            assert!(
                gap(&real_scores, &apart[0]) < 1e-5,
                "batch norm {batch_norm}"
            );
            assert!(
                gap(&fake_scores, &apart[1]) < 1e-5,
                "batch norm {batch_norm}"
            );
            let mixed = f
                .discriminator
                .forward(&Tensor::cat(&[&real, &fake], 0), None, None)
                .narrow(0, 0, 16);
            assert_eq!(gap(&mixed, &apart[0]) > 1e-4, batch_norm);
        }
    }

    /// A joint D update is one optimizer step on both losses: D's step count follows the
    /// training steps (two per step when separate), and the step moves D differently from
    /// two separate steps; the loss and accuracy it reports are computed the same way.
    #[test]
    fn joint_discriminator_update_takes_one_step_on_both_losses() {
        let real = toy_images(16)
            .to_tensor(gan_data::Scaling::MinusOneToOne, Device::Cpu)
            .unwrap();
        let run = |update| {
            let mut f = family_with("mlp", update);
            let mut values = Vec::new();
            for step in 0..3 {
                values = f
                    .step(&Batch {
                        step,
                        images: real.shallow_clone(),
                        labels: None,
                    })
                    .unwrap();
            }
            let steps = f.discriminator_part.manifest().optimizer_steps;
            (steps, values, snapshot(f.discriminator_part.vars()))
        };
        let (joint_steps, joint_values, joint_weights) = run(DiscriminatorUpdate::Joint);
        let (separate_steps, separate_values, separate_weights) =
            run(DiscriminatorUpdate::Separate);
        assert_eq!((joint_steps, separate_steps), (3, 6));
        assert_eq!(joint_values.len(), separate_values.len());
        assert!(joint_values.iter().all(|v| v.is_finite()));
        assert!(joint_weights
            .iter()
            .zip(&separate_weights)
            .any(|((_, a), (_, b))| !a.equal(b)));
        let mut config = small_config("mlp");
        gan(&mut config).discriminator_update = DiscriminatorUpdate::Joint;
        let text = config.to_toml().unwrap();
        assert!(text.contains("discriminator_update = \"joint\""), "{text}");
        let back: crate::TrainConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, config);
        assert!(!small_config("mlp")
            .to_toml()
            .unwrap()
            .contains("discriminator_update"));
    }

    /// The EMA generator's statistics are estimated from its own activations: after
    /// estimation, its inference-mode output on the estimation noise has the statistics
    /// of its training-mode output there, and the live generator is untouched.
    #[test]
    fn ema_normalization_is_estimated_from_the_shadow_network() {
        let mut f = family("mlp");
        let real = toy_images(16)
            .to_tensor(gan_data::Scaling::MinusOneToOne, Device::Cpu)
            .unwrap();
        for step in 0..5 {
            f.step(&Batch {
                step,
                images: real.shallow_clone(),
                labels: None,
            })
            .unwrap();
        }
        let ema = f.generator_part.ema().unwrap();
        assert!(ema.is_stale());
        let live = snapshot(f.generator_part.vars());
        f.sync_ema();
        assert!(!f.generator_part.ema().unwrap().is_stale());
        assert!(changed(&live, f.generator_part.vars()).is_empty());
        let shadow = f.generator_ema.as_ref().unwrap();
        let z = f
            .rng
            .normal(
                EMA_NORMALIZATION_STREAM,
                &[shadow.normalization_samples(), 100],
                Device::Cpu,
            )
            .unwrap();
        let (eval, train) = tch::no_grad(|| {
            (
                shadow.forward(&z, None, false, None),
                shadow.forward(&z, None, true, None),
            )
        });
        // Training mode uses the batch's biased variance, the running one is unbiased: at
        // thousands of samples they agree to well under a percent.
        let gap = (eval - train).abs().max().double_value(&[]);
        assert!(gap < 5e-3, "inference and batch statistics differ by {gap}");
    }

    /// WGAN-GP: every step moves the critic, only every fifth moves G; every step reports
    /// the critic loss (its parts adding up), the Wasserstein estimate, the penalty and a G
    /// loss.
    #[test]
    fn wgan_gp_updates_the_critic_every_step_and_g_every_fifth() {
        let mut f = family_with("wgan-gp", DiscriminatorUpdate::Joint);
        let real = toy_images(16)
            .to_tensor(gan_data::Scaling::MinusOneToOne, Device::Cpu)
            .unwrap();
        assert_eq!(
            f.metrics().iter().map(|m| m.key).collect::<Vec<_>>(),
            ["critic_loss", "wasserstein", "penalty", "g_loss"]
        );
        for step in 0..10 {
            let (g0, d0) = (
                snapshot(f.generator_part.vars()),
                snapshot(f.discriminator_part.vars()),
            );
            let values = f
                .step(&Batch {
                    step,
                    images: real.shallow_clone(),
                    labels: None,
                })
                .unwrap();
            assert!(values.iter().all(|v| v.is_finite()), "{values:?}");
            let [critic, wasserstein, penalty, _] = values[..] else {
                panic!("{values:?}")
            };
            assert!(penalty >= 0.0);
            assert!((critic - (-wasserstein + 10.0 * penalty)).abs() < 1e-4);
            assert!(!changed(&d0, f.discriminator_part.vars()).is_empty());
            // Making the fakes in training mode moves BatchNorm's running statistics.
            let g_moved = changed(&g0, f.generator_part.vars())
                .iter()
                .any(|name| !name.contains("running"));
            assert_eq!(g_moved, step % 5 == 4, "step {step}");
        }
    }

    /// Settings a gradient penalty cannot work with are refused, naming the field.
    #[test]
    fn penalty_refuses_separate_updates_and_batch_norm_critics() {
        let mut config = small_config("wgan-gp");
        gan(&mut config).discriminator_update = DiscriminatorUpdate::Separate;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("discriminator_update"), "{err}");
        let mut config = small_config("wgan-gp");
        if let DiscriminatorConfig::Conv(d) = &mut gan(&mut config).discriminator {
            d.norm = gan_models::conv::CriticNorm::BatchNorm {
                momentum: 0.1,
                eps: 1e-5,
            };
        }
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("discriminator.norm"), "{err}");
        gan(&mut config).n_critic = 0;
        assert!(config.validate().is_err());
        let text = small_config("wgan-gp").to_toml().unwrap();
        assert!(
            text.contains("n_critic = 5") && text.contains("kind = \"wasserstein\""),
            "{text}"
        );
    }

    /// `dcgan`'s BCE with a gradient penalty reports the penalty beside D's loss and
    /// accuracy, and the penalty steers D's update; it is refused where it does not apply.
    #[test]
    fn a_penalty_on_the_bce_loss_is_reported_and_moves_d() {
        let real = toy_images(16)
            .to_tensor(gan_data::Scaling::MinusOneToOne, Device::Cpu)
            .unwrap();
        let d_after_one_step = |weight: f64| {
            let mut f = edited("dcgan", |g| g.gradient_penalty = Some(weight));
            assert_eq!(
                f.metrics().iter().map(|m| m.key).collect::<Vec<_>>(),
                ["d_loss", "d_acc", "penalty", "g_loss"]
            );
            let values = f
                .step(&Batch {
                    step: 0,
                    images: real.shallow_clone(),
                    labels: None,
                })
                .unwrap();
            assert!(values.iter().all(|v| v.is_finite()) && values[2] >= 0.0);
            snapshot(f.discriminator_part.vars())
        };
        let (plain, penalized) = (d_after_one_step(0.0), d_after_one_step(1_000.0));
        let moved = plain
            .iter()
            .zip(&penalized)
            .any(|((_, a), (_, b))| !a.allclose(b, 1e-6, 1e-6, false));
        assert!(moved, "the penalty's weight did not change D's update");

        let mut config = small_config("dcgan");
        gan(&mut config).loss = GanLoss::Hinge;
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("gradient_penalty") && err.contains("non-saturating"),
            "{err}"
        );
        let mut config = small_config("dcgan");
        gan(&mut config).gradient_penalty = Some(-1.0);
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("gradient_penalty"), "{err}");
    }

    /// Hinge and least squares train the conv GAN too, reporting D and G losses only.
    #[test]
    fn other_losses_step_and_report_two_metrics() {
        for loss in [GanLoss::Hinge, GanLoss::LeastSquares] {
            let mut f = edited("dcgan", |g| {
                g.loss = loss;
                g.gradient_penalty = None;
            });
            let real = toy_images(16)
                .to_tensor(gan_data::Scaling::MinusOneToOne, Device::Cpu)
                .unwrap();
            let values = f
                .step(&Batch {
                    step: 0,
                    images: real,
                    labels: None,
                })
                .unwrap();
            assert_eq!(values.len(), 2);
            assert!(values.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn step_products_count_the_tutorial_gemms() {
        let mut config = crate::TrainConfig::preset("tutorial").unwrap();
        let flops: f64 = gan(&mut config)
            .step_products(128)
            .iter()
            .map(StepProduct::flops)
            .sum();
        // 9.37 M multiply-adds per sample (see step_products), × 2 FLOPs × 128.
        assert!((flops / 1e9 - 2.398).abs() < 0.01, "{flops}");
    }
}
