//! The GAN family: a generator and a discriminator trained against each other with
//! binary cross-entropy, in the tutorial's loop (D on a real batch, D on a fake batch, G
//! through D), each with its own Adam and, for G, optionally an EMA of its weights.

use gan_data::rng::stream_seed;
use gan_data::DeviceRng;
use gan_models::conditioning::balanced_labels;
use gan_models::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, Summary, Tape};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::{Batch, BuildContext, Family, Metric, SampleWeights, StepProducts};
use crate::adam::AdamConfig;
use crate::ema::{EmaConfig, EmaNormalization};
use crate::error::TrainError;
use crate::loss::{accuracy, bce_with_logits};
use crate::part::Part;
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
    /// Both optimizers' rates decay on this schedule when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_decay: Option<LrDecay>,
    /// An exponential moving average of G's weights, which samples when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_ema: Option<EmaConfig>,
    pub generator: GeneratorConfig,
    pub discriminator: DiscriminatorConfig,
}

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

/// Random streams of a run's seed. Step `s` draws its noise from stream `s`; these sit far
/// above any step.
const GENERATOR_INIT_STREAM: u64 = u64::MAX - 1;
const DISCRIMINATOR_INIT_STREAM: u64 = u64::MAX - 2;
const EMA_NORMALIZATION_STREAM: u64 = u64::MAX - 3;
/// Noise vectors whose activations estimate the EMA generator's normalisation statistics.
const EMA_NORMALIZATION_SAMPLES: i64 = 4096;

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

    /// Per step: G forward twice (the fakes of the D update, then the G update), D forward
    /// three times (real, fake, through G); weight gradients of D twice and of G once; input
    /// gradients of every layer but the first, for both D updates and the G update, plus D's
    /// first layer in the G update (the gradient flows into G's images).
    pub fn step_products(&self, b: i64) -> StepProducts {
        let mut products = Vec::new();
        for (i, (fan_in, fan_out)) in self.generator.dense_shapes().into_iter().enumerate() {
            products.push(((b, fan_in, fan_out), 2)); // forward
            products.push(((fan_out, b, fan_in), 1)); // weight gradient
            if i > 0 {
                products.push(((b, fan_out, fan_in), 1)); // input gradient
            }
        }
        for (i, (fan_in, fan_out)) in self.discriminator.dense_shapes().into_iter().enumerate() {
            products.push(((b, fan_in, fan_out), 3));
            products.push(((fan_out, b, fan_in), 2));
            products.push(((b, fan_out, fan_in), if i > 0 { 3 } else { 1 }));
        }
        products
    }
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
    real_labels: Tensor,
    fake_labels: Tensor,
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
        Ok(GanFamily {
            config: config.clone(),
            device,
            generator,
            generator_part,
            generator_ema,
            discriminator,
            discriminator_part,
            rng: DeviceRng::new(context.seed),
            real_labels: Tensor::ones(labels_shape, (Kind::Float, device)),
            fake_labels: Tensor::zeros(labels_shape, (Kind::Float, device)),
        })
    }

    /// One Adam step of D on `images` (of `classes`, when conditional) labelled real (1) or
    /// fake (0); returns loss and accuracy measured before the update, as Keras'
    /// `train_on_batch` reports them.
    fn update_discriminator(
        &mut self,
        images: &Tensor,
        classes: Option<&Tensor>,
        real: bool,
    ) -> (Tensor, Tensor) {
        let labels = if real {
            &self.real_labels
        } else {
            &self.fake_labels
        };
        let tape = Tape::new();
        let logits = self.discriminator.forward(images, classes, Some(&tape));
        let loss = bce_with_logits(&logits, labels);
        let acc = accuracy(&logits.detach(), labels);
        let grads = tape.gradients(&loss, self.discriminator_part.params());
        self.discriminator_part.apply_gradients(&grads);
        (loss, acc)
    }

    /// One Adam step of D on the sum of its losses on `real` (label 1) and `fake` (label 0);
    /// returns each loss and accuracy measured before the update.
    fn update_discriminator_jointly(
        &mut self,
        real: (&Tensor, Option<&Tensor>),
        fake: (&Tensor, Option<&Tensor>),
    ) -> [(Tensor, Tensor); 2] {
        let tape = Tape::new();
        let real_logits = self.discriminator.forward(real.0, real.1, Some(&tape));
        let fake_logits = self.discriminator.forward(fake.0, fake.1, Some(&tape));
        let real_loss = bce_with_logits(&real_logits, &self.real_labels);
        let fake_loss = bce_with_logits(&fake_logits, &self.fake_labels);
        let grads = tape.gradients(&(&real_loss + &fake_loss), self.discriminator_part.params());
        self.discriminator_part.apply_gradients(&grads);
        [
            (
                real_loss,
                accuracy(&real_logits.detach(), &self.real_labels),
            ),
            (
                fake_loss,
                accuracy(&fake_logits.detach(), &self.fake_labels),
            ),
        ]
    }

    /// One Adam step of G through D with "real" labels. Gradients are taken with respect to
    /// G's parameters only (D is off the tape), so D stays untouched (the tutorial's frozen D).
    fn update_generator(&mut self, noise: &Tensor, classes: Option<&Tensor>) -> Tensor {
        let tape = Tape::new();
        let images = self.generator.forward(noise, classes, true, Some(&tape));
        let logits = self.discriminator.forward(&images, classes, None);
        let loss = bce_with_logits(&logits, &self.real_labels);
        let grads = tape.gradients(&loss, self.generator_part.params());
        self.generator_part.apply_gradients(&grads);
        loss
    }
}

impl Family for GanFamily {
    fn metrics(&self) -> &'static [Metric] {
        METRICS
    }

    /// One iteration of the tutorial's loop:
    /// 1. a fake batch from G without gradients (noise of the step's stream);
    /// 2. a D update on the real batch with label 1, then a second D update on the fake batch
    ///    with label 0 (two optimizer steps, as two `train_on_batch` calls are; or one step
    ///    on both losses with [`DiscriminatorUpdate::Joint`]);
    /// 3. a G update on fresh noise through D with label 1; only G's parameters change.
    ///
    /// A conditional GAN gives D the real batch's classes and draws its fakes' classes
    /// balanced (every class equally often, rotating with the step).
    fn step(&mut self, batch: &Batch) -> Result<Vec<f64>, TrainError> {
        if let Some(decay) = &self.config.lr_decay {
            let factor = decay.factor(batch.step);
            self.generator_part.scale_learning_rate(factor);
            self.discriminator_part.scale_learning_rate(factor);
        }
        let size = batch.images.size()[0];
        let latent = self.generator.latent_dim();
        // Both noise batches of the step in one draw: [0] for the fakes, [1] for the G update.
        let noise = self
            .rng
            .normal(batch.step, &[2, size, latent], self.device)?;
        let (real_classes, fake_classes) = match (self.generator.conditional(), &batch.labels) {
            (false, _) => (None, None),
            (true, Some(labels)) => {
                let offset = (batch.step % gan_models::CLASSES as u64) as i64 * size;
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
        let fake_in_training_mode = self.config.fake_mode == FakeMode::Training;
        let fake = tch::no_grad(|| {
            self.generator.forward(
                &noise.get(0),
                fake_classes.as_ref(),
                fake_in_training_mode,
                None,
            )
        });
        let [(d_loss_real, d_acc_real), (d_loss_fake, d_acc_fake)] =
            match self.config.discriminator_update {
                DiscriminatorUpdate::Separate => [
                    self.update_discriminator(&batch.images, real_classes, true),
                    self.update_discriminator(&fake, fake_classes.as_ref(), false),
                ],
                DiscriminatorUpdate::Joint => self.update_discriminator_jointly(
                    (&batch.images, real_classes),
                    (&fake, fake_classes.as_ref()),
                ),
            };
        let g_loss = self.update_generator(&noise.get(1), fake_classes.as_ref());
        Ok(vec![
            0.5 * (d_loss_real.double_value(&[]) + d_loss_fake.double_value(&[])),
            0.5 * (d_acc_real.double_value(&[]) + d_acc_fake.double_value(&[])),
            g_loss.double_value(&[]),
        ])
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
            let z = self
                .rng
                .normal(
                    EMA_NORMALIZATION_STREAM,
                    &[EMA_NORMALIZATION_SAMPLES, shadow.latent_dim()],
                    self.device,
                )
                .expect("a normal draw on the family's own device");
            // Every class equally often, so each class's activations shape the statistics.
            let labels = shadow
                .conditional()
                .then(|| balanced_labels(EMA_NORMALIZATION_SAMPLES, 0, self.device));
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
        let mut c = small_config(preset);
        gan(&mut c).discriminator_update = update;
        let matmul = c.matmul.resolve(Device::Cpu).unwrap();
        let context = BuildContext {
            device: Device::Cpu,
            seed: 3,
            batch_size: 16,
            matmul,
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
        let text = config.to_toml();
        assert!(text.contains("discriminator_update = \"joint\""), "{text}");
        let back: crate::TrainConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, config);
        assert!(!small_config("mlp")
            .to_toml()
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
            .normal(EMA_NORMALIZATION_STREAM, &[4096, 100], Device::Cpu)
            .unwrap();
        let (eval, train) = tch::no_grad(|| {
            (
                shadow.forward(&z, None, false, None),
                shadow.forward(&z, None, true, None),
            )
        });
        // Training mode uses the batch's biased variance, the running one is unbiased: at 4,096
        // samples they agree to well under a percent.
        let gap = (eval - train).abs().max().double_value(&[]);
        assert!(gap < 5e-3, "inference and batch statistics differ by {gap}");
    }

    #[test]
    fn step_products_count_the_tutorial_gemms() {
        let mut config = crate::TrainConfig::preset("tutorial").unwrap();
        let flops: f64 = gan(&mut config)
            .step_products(128)
            .iter()
            .map(|((m, k, n), count)| 2.0 * (m * k * n) as f64 * f64::from(*count))
            .sum();
        // 9.37 M multiply-adds per sample (see step_products), × 2 FLOPs × 128.
        assert!((flops / 1e9 - 2.398).abs() < 0.01, "{flops}");
    }
}
