//! The GAN family: a generator and a discriminator (critic) trained against each other, in
//! the tutorial's loop (D on a real batch, D on a fake batch, G through D), each with its
//! own Adam and, for G, optionally an EMA of its weights. The loss is configurable
//! ([`GanLoss`]: the tutorial's BCE, hinge, least squares, WGAN-GP), and D may take several
//! steps per G step (`n_critic`).
//!
//! - `config`: [`GanConfig`] and its checks; `metrics`: what a step reports per loss.
//! - `updates`: how the step's D and G updates form their gradients, chosen once when the
//!   family is built: through autograd (`autograd`, every setting) or by hand (`by_hand`,
//!   where both networks are chains).

mod autograd;
mod by_hand;
mod config;
mod metrics;

use gan_data::rng::stream_seed;
use gan_data::DeviceRng;
use gan_models::conditioning::{balanced_labels, CLASSES};
use gan_models::{Discriminator, Generator, Mode, OutputActivation, Summary};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

pub use config::{DiscriminatorUpdate, FakeMode, GanConfig};

use super::{Batch, BuildContext, Family, FamilyConfig, Metric, SampleWeights};
use crate::ema::EmaNormalization;
use crate::error::TrainError;
use crate::loss::{accuracy, GanLoss};
use crate::part::Part;

/// Random streams of a run's seed. Step `s` draws its noise from stream `s`; these sit far
/// above any step.
const GENERATOR_INIT_STREAM: u64 = u64::MAX - 1;
const DISCRIMINATOR_INIT_STREAM: u64 = u64::MAX - 2;
const EMA_NORMALIZATION_STREAM: u64 = u64::MAX - 3;
/// The seed of the generator whose stream `s` draws step `s`'s interpolation coefficients.
const PENALTY_STREAM: u64 = u64::MAX - 4;

impl FamilyConfig for GanConfig {
    fn build(&self, context: &BuildContext) -> Result<Box<dyn Family>, TrainError> {
        Ok(Box::new(GanFamily::new(self, context)?))
    }

    fn validate(&self) -> Result<(), TrainError> {
        GanConfig::validate(self)
    }

    fn metrics(&self) -> &'static [Metric] {
        GanConfig::metrics(self)
    }

    fn output(&self) -> OutputActivation {
        self.generator.output()
    }

    fn latent_dim(&self) -> i64 {
        self.generator.latent_dim()
    }

    fn conditional(&self) -> bool {
        self.generator.conditional()
    }

    fn image_shape(&self) -> [i64; 3] {
        self.generator.image_shape()
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.generator_optimizer.lr = lr;
        self.discriminator_optimizer.lr = lr;
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

/// Images with their classes, for a conditional model.
type Labelled<'a> = (&'a Tensor, Option<&'a Tensor>);

/// The networks a step trains, each with its part (optimizer, EMA).
struct Networks {
    generator: Box<dyn Generator>,
    generator_part: Part,
    discriminator: Box<dyn Discriminator>,
    discriminator_part: Part,
}

/// How a step's updates form their gradients, chosen once when the family is built (see
/// the module docs). Each update is one Adam step of its part.
trait Updates {
    /// G's images for `noise` (of `classes`) without gradients.
    fn fakes(
        &self,
        nets: &Networks,
        noise: &Tensor,
        classes: Option<&Tensor>,
        mode: Mode,
    ) -> Tensor;
    /// D on `images` as real or fake; returns the loss and the scores, measured before the
    /// update (as Keras' `train_on_batch` reports them).
    fn update_discriminator(
        &mut self,
        nets: &mut Networks,
        loss: GanLoss,
        images: Labelled,
        real: bool,
    ) -> (Tensor, Tensor);
    /// D on the sum of its losses on `real` and `fake`, plus the gradient penalty when the
    /// config has one (its coefficients drawn from `step`'s stream).
    fn update_discriminator_jointly(
        &mut self,
        nets: &mut Networks,
        config: &GanConfig,
        step: u64,
        real: Labelled,
        fake: Labelled,
    ) -> Result<CriticStep, TrainError>;
    /// G through D with "real" labels on `noise`; D's parameters get no gradient (the
    /// tutorial's frozen D). Returns G's loss.
    fn update_generator(
        &mut self,
        nets: &mut Networks,
        loss: GanLoss,
        noise: &Tensor,
        classes: Option<&Tensor>,
    ) -> Tensor;
}

/// A generator, its EMA copy, a discriminator, and the labels of the loss.
pub struct GanFamily {
    config: GanConfig,
    device: Device,
    nets: Networks,
    /// The network whose weights are the generator part's EMA.
    generator_ema: Option<Box<dyn Generator>>,
    rng: DeviceRng,
    real_labels: Tensor,
    fake_labels: Tensor,
    updates: Box<dyn Updates>,
}

impl GanFamily {
    pub fn new(config: &GanConfig, context: &BuildContext) -> Result<GanFamily, TrainError> {
        config.validate()?;
        let device = context.device;
        let g_seed = stream_seed(context.seed, GENERATOR_INIT_STREAM);
        let g_vs = VarStore::new(device);
        let generator = config.generator.build(&g_vs.root(), g_seed)?;
        let (generator_ema, ema) = match config.generator_ema {
            Some(ema_config) => {
                let shadow_vs = VarStore::new(device);
                let shadow = config.generator.build(&shadow_vs.root(), g_seed)?;
                (Some(shadow), Some((shadow_vs, ema_config)))
            }
            None => (None, None),
        };
        let d_vs = VarStore::new(device);
        let discriminator = config.discriminator.build(
            &d_vs.root(),
            stream_seed(context.seed, DISCRIMINATOR_INIT_STREAM),
        )?;
        let updates: Box<dyn Updates> =
            match by_hand::ByHand::new(config, &g_vs, &d_vs, context.batch_size) {
                Some(by_hand) => Box::new(by_hand),
                None => Box::new(autograd::Autograd::new(
                    DeviceRng::new(stream_seed(context.seed, PENALTY_STREAM)),
                    device,
                )),
            };
        let nets = Networks {
            generator,
            generator_part: Part::new("generator", g_vs, config.generator_optimizer, ema),
            discriminator,
            discriminator_part: Part::new(
                "discriminator",
                d_vs,
                config.discriminator_optimizer,
                None,
            ),
        };
        let labels_shape = [context.batch_size as i64, 1];
        Ok(GanFamily {
            config: config.clone(),
            device,
            nets,
            generator_ema,
            rng: DeviceRng::new(context.seed),
            real_labels: Tensor::ones(labels_shape, (Kind::Float, device)),
            fake_labels: Tensor::zeros(labels_shape, (Kind::Float, device)),
            updates,
        })
    }

    /// One Adam step of D on `images` (of `classes`, when conditional) as real or fake.
    fn update_discriminator(
        &mut self,
        images: &Tensor,
        classes: Option<&Tensor>,
        real: bool,
    ) -> (Tensor, Tensor) {
        self.updates
            .update_discriminator(&mut self.nets, self.config.loss, (images, classes), real)
    }

    /// Two Adam steps of D, on the real batch then on the fake one (the tutorial's two
    /// `train_on_batch` calls).
    fn update_discriminator_separately(&mut self, real: Labelled, fake: Labelled) -> CriticStep {
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

    /// One Adam step of G through D on `noise`.
    fn update_generator(&mut self, noise: &Tensor, classes: Option<&Tensor>) -> Tensor {
        self.updates
            .update_generator(&mut self.nets, self.config.loss, noise, classes)
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
            self.nets.generator_part.scale_learning_rate(factor);
            self.nets.discriminator_part.scale_learning_rate(factor);
        }
        self.nets.discriminator.power_iteration();
        let size = batch.images.size()[0];
        let latent = self.nets.generator.latent_dim();
        // Both noise batches of the step in one draw: [0] for the fakes, [1] for the G update.
        let noise = self
            .rng
            .normal(batch.step, &[2, size, latent], self.device)?;
        let (real_classes, generated_classes) =
            match (self.nets.generator.conditional(), &batch.labels) {
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
        let fake_mode = match self.config.fake_mode {
            FakeMode::Training => Mode::Training,
            FakeMode::Inference => Mode::Inference,
        };
        let fake = self
            .updates
            .fakes(&self.nets, &noise.get(0), fake_classes, fake_mode);
        let real = (&batch.images, real_classes);
        let critic = match self.config.discriminator_update {
            DiscriminatorUpdate::Separate => {
                self.update_discriminator_separately(real, (&fake, fake_classes))
            }
            DiscriminatorUpdate::Joint => self.updates.update_discriminator_jointly(
                &mut self.nets,
                &self.config,
                batch.step,
                real,
                (&fake, fake_classes),
            )?,
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
            _ => &self.nets.generator,
        };
        tch::no_grad(|| network.forward(noise, labels, Mode::Inference))
    }

    fn steps_per_cycle(&self) -> u32 {
        self.config.n_critic
    }

    fn latent_dim(&self) -> i64 {
        self.nets.generator.latent_dim()
    }

    fn conditional(&self) -> bool {
        self.nets.generator.conditional()
    }

    fn parts(&self) -> Vec<&Part> {
        vec![&self.nets.generator_part, &self.nets.discriminator_part]
    }

    fn parts_mut(&mut self) -> Vec<&mut Part> {
        vec![
            &mut self.nets.generator_part,
            &mut self.nets.discriminator_part,
        ]
    }

    fn sync_ema(&self) {
        let (Some(shadow), Some(ema)) = (&self.generator_ema, self.nets.generator_part.ema())
        else {
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
                self.nets.generator.layers(),
                self.nets.generator_part.vars(),
            ),
            Summary::new(
                "discriminator",
                self.nets.discriminator.layers(),
                self.nets.discriminator_part.vars(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{gan, small_config, toy_images};
    use gan_models::weights::named_tensors;
    use gan_models::DiscriminatorConfig;

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
        };
        crate::Backprop::default()
            .execution(matmul)
            .run(|| GanFamily::new(gan(&mut c), &context).unwrap())
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
            snapshot(f.nets.generator_part.vars()),
            snapshot(f.nets.discriminator_part.vars()),
        );
        let _ = f.update_discriminator(&real, None, true);
        assert!(
            changed(&g0, f.nets.generator_part.vars()).is_empty(),
            "D step touched G"
        );
        assert_eq!(
            changed(&d0, f.nets.discriminator_part.vars()).len(),
            d0.len(),
            "D step must move every D parameter"
        );

        let (g1, d1) = (
            snapshot(f.nets.generator_part.vars()),
            snapshot(f.nets.discriminator_part.vars()),
        );
        let noise = Tensor::randn([16, 100], (Kind::Float, Device::Cpu));
        let _ = f.update_generator(&noise, None);
        assert!(
            changed(&d1, f.nets.discriminator_part.vars()).is_empty(),
            "G step touched D"
        );
        let moved = changed(&g1, f.nets.generator_part.vars());
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
            let (real_scores, fake_scores) = autograd::score_both(
                f.nets.discriminator.as_ref(),
                &f.config,
                (&real, None),
                (&fake, None),
            );
            let apart = [&real, &fake].map(|x| f.nets.discriminator.forward(x, None));
            assert!(
                gap(&real_scores, &apart[0]) < 1e-5,
                "batch norm {batch_norm}"
            );
            assert!(
                gap(&fake_scores, &apart[1]) < 1e-5,
                "batch norm {batch_norm}"
            );
            let mixed = f
                .nets
                .discriminator
                .forward(&Tensor::cat(&[&real, &fake], 0), None)
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
                        noise: None,
                    })
                    .unwrap();
            }
            let steps = f.nets.discriminator_part.manifest().optimizer_steps;
            (steps, values, snapshot(f.nets.discriminator_part.vars()))
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
                noise: None,
            })
            .unwrap();
        }
        let ema = f.nets.generator_part.ema().unwrap();
        assert!(ema.is_stale());
        let live = snapshot(f.nets.generator_part.vars());
        f.sync_ema();
        assert!(!f.nets.generator_part.ema().unwrap().is_stale());
        assert!(changed(&live, f.nets.generator_part.vars()).is_empty());
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
                shadow.forward(&z, None, Mode::Inference),
                shadow.forward(&z, None, Mode::Training),
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
                snapshot(f.nets.generator_part.vars()),
                snapshot(f.nets.discriminator_part.vars()),
            );
            let values = f
                .step(&Batch {
                    step,
                    images: real.shallow_clone(),
                    labels: None,
                    noise: None,
                })
                .unwrap();
            assert!(values.iter().all(|v| v.is_finite()), "{values:?}");
            let [critic, wasserstein, penalty, _] = values[..] else {
                panic!("{values:?}")
            };
            assert!(penalty >= 0.0);
            assert!((critic - (-wasserstein + 10.0 * penalty)).abs() < 1e-4);
            assert!(!changed(&d0, f.nets.discriminator_part.vars()).is_empty());
            // Making the fakes in training mode moves BatchNorm's running statistics.
            let g_moved = changed(&g0, f.nets.generator_part.vars())
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
                    noise: None,
                })
                .unwrap();
            assert!(values.iter().all(|v| v.is_finite()) && values[2] >= 0.0);
            snapshot(f.nets.discriminator_part.vars())
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
                    noise: None,
                })
                .unwrap();
            assert_eq!(values.len(), 2);
            assert!(values.iter().all(|v| v.is_finite()));
        }
    }
}
