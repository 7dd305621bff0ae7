//! The GAN step's updates through autograd, for every setting: dense layers record
//! themselves on a [`Tape`] so their weight gradients come from the fastest product, and
//! everything else (convolutions, the gradient penalty's second derivatives) from autograd.

use gan_data::DeviceRng;
use gan_models::{Discriminator, Mode, Tape};
use tch::{Device, Tensor};

use super::{CriticStep, GanConfig, Labelled, Networks, Updates};
use crate::error::TrainError;
use crate::loss::{gradient_penalty, GanLoss};

pub(super) struct Autograd {
    /// Step `s`'s interpolation coefficients of the gradient penalty come from stream `s`.
    penalty_rng: DeviceRng,
    device: Device,
}

impl Autograd {
    pub(super) fn new(penalty_rng: DeviceRng, device: Device) -> Self {
        Autograd {
            penalty_rng,
            device,
        }
    }
}

impl Updates for Autograd {
    fn fakes(
        &self,
        nets: &Networks,
        noise: &Tensor,
        classes: Option<&Tensor>,
        mode: Mode,
    ) -> Tensor {
        tch::no_grad(|| nets.generator.forward(noise, classes, mode))
    }

    fn update_discriminator(
        &mut self,
        nets: &mut Networks,
        loss: GanLoss,
        (images, classes): Labelled,
        real: bool,
    ) -> (Tensor, Tensor) {
        let (scores, tape) = Tape::record(|| nets.discriminator.forward(images, classes));
        let loss = if real {
            loss.real(&scores)
        } else {
            loss.fake(&scores)
        };
        let grads = tape.gradients(&loss, nets.discriminator_part.params());
        nets.discriminator_part.apply_gradients(&grads);
        (loss, scores.detach())
    }

    /// With a penalty every gradient comes from autograd: the tape cannot form the second
    /// derivatives the penalty's gradient needs.
    fn update_discriminator_jointly(
        &mut self,
        nets: &mut Networks,
        config: &GanConfig,
        step: u64,
        real: Labelled,
        fake: Labelled,
    ) -> Result<CriticStep, TrainError> {
        let loss_kind = config.loss;
        let penalty_weight = config.penalty_weight();
        let discriminator = nets.discriminator.as_ref();
        let score = || score_both(discriminator, config, real, fake);
        let ((real_scores, fake_scores), tape) = match penalty_weight {
            None => Tape::record(score),
            Some(_) => (score(), Tape::default()),
        };
        let real_loss = loss_kind.real(&real_scores);
        let fake_loss = loss_kind.fake(&fake_scores);
        let mut loss = &real_loss + &fake_loss;
        let penalty = match penalty_weight {
            Some(weight) => {
                let size = real.0.size()[0];
                let coefficients = self.penalty_rng.uniform(step, &[size], self.device)?;
                // Interpolates between a real image and a fake of the same class.
                let penalty = gradient_penalty(
                    |points| discriminator.forward(points, real.1),
                    real.0,
                    fake.0,
                    &coefficients,
                );
                loss += &penalty * weight;
                Some(penalty.detach())
            }
            None => None,
        };
        let grads = tape.gradients(&loss, nets.discriminator_part.params());
        nets.discriminator_part.apply_gradients(&grads);
        Ok(CriticStep {
            real_loss,
            fake_loss,
            real_scores: real_scores.detach(),
            fake_scores: fake_scores.detach(),
            penalty,
        })
    }

    fn update_generator(
        &mut self,
        nets: &mut Networks,
        loss: GanLoss,
        noise: &Tensor,
        classes: Option<&Tensor>,
    ) -> Tensor {
        let (images, tape) =
            Tape::record(|| nets.generator.forward(noise, classes, Mode::Training));
        let scores = nets.discriminator.forward(&images, classes);
        let loss = loss.generator(&scores);
        let grads = tape.gradients(&loss, nets.generator_part.params());
        nets.generator_part.apply_gradients(&grads);
        loss
    }
}

/// D's scores of the real and the fake batch, in one pass through D when
/// [`GanConfig::scores_batches_together`]: half the kernel calls, and larger products, for
/// the same scores.
pub(super) fn score_both(
    discriminator: &dyn Discriminator,
    config: &GanConfig,
    real: Labelled,
    fake: Labelled,
) -> (Tensor, Tensor) {
    if !config.scores_batches_together() {
        return (
            discriminator.forward(real.0, real.1),
            discriminator.forward(fake.0, fake.1),
        );
    }
    let images = Tensor::cat(&[real.0, fake.0], 0);
    let classes = real
        .1
        .zip(fake.1)
        .map(|(real, fake)| Tensor::cat(&[real, fake], 0));
    let scores = discriminator.forward(&images, classes.as_ref());
    let size = real.0.size()[0];
    let fakes = fake.0.size()[0];
    (scores.narrow(0, 0, size), scores.narrow(0, size, fakes))
}
