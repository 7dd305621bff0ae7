//! The GAN step with both networks run by hand ([`gan_models::manual`]) instead of through
//! autograd: the same updates, with the losses' gradients with respect to D's scores
//! written out. Chosen when both networks are chains and the loss is the non-saturating one,
//! with D's two updates taken separately or, when D has no batch statistics, as one update
//! on the real and the fake batch scored together; every other setting goes through
//! autograd.

use gan_models::manual::{Chain, Wanted};
use gan_models::Mode;
use tch::nn::VarStore;
use tch::Tensor;

use super::{CriticStep, GanConfig, Labelled, Networks, Updates};
use crate::error::TrainError;
use crate::loss::GanLoss;

/// G and D as chains, sharing their tensors with the networks' var stores.
pub(super) struct ByHand {
    generator: Chain,
    discriminator: Chain,
}

impl ByHand {
    /// The networks in `generator` and `discriminator` as chains, where this config's steps
    /// at `batch_size` can run by hand (see the module docs) and the execution in effect
    /// lets them.
    pub(super) fn new(
        config: &GanConfig,
        generator: &VarStore,
        discriminator: &VarStore,
        batch_size: usize,
    ) -> Option<ByHand> {
        if !config.runs_by_hand(batch_size) {
            return None;
        }
        Some(ByHand {
            generator: Chain::of_generator(&config.generator, &generator.root())?,
            discriminator: Chain::of_discriminator(&config.discriminator, &discriminator.root())?,
        })
    }
}

impl Updates for ByHand {
    /// Flat images; unconditional networks take no classes.
    fn fakes(&self, _: &Networks, noise: &Tensor, _: Option<&Tensor>, mode: Mode) -> Tensor {
        self.generator.forward(noise, mode.is_training()).0
    }

    fn update_discriminator(
        &mut self,
        nets: &mut Networks,
        loss: GanLoss,
        (images, _): Labelled,
        real: bool,
    ) -> (Tensor, Tensor) {
        let chain = &self.discriminator;
        let (scores, pass) = chain.forward(&images.flatten(1, -1), true);
        let (loss, target) = if real {
            (loss.real(&scores), 1.0)
        } else {
            (loss.fake(&scores), 0.0)
        };
        let gradients = chain.backward(pass, &logit_gradient(&scores, target), Wanted::Parameters);
        nets.discriminator_part
            .apply_named_gradients(gradients.parameters);
        (loss, scores)
    }

    /// For a D without batch statistics: both batches in one pass, one update on the sum
    /// of the two mean losses.
    fn update_discriminator_jointly(
        &mut self,
        nets: &mut Networks,
        config: &GanConfig,
        _: u64,
        (real, _): Labelled,
        (fake, _): Labelled,
    ) -> Result<CriticStep, TrainError> {
        let chain = &self.discriminator;
        let images = Tensor::cat(&[real.flatten(1, -1), fake.flatten(1, -1)], 0);
        let (scores, pass) = chain.forward(&images, true);
        let (reals, fakes) = (real.size()[0], fake.size()[0]);
        let real_scores = scores.narrow(0, 0, reals);
        let fake_scores = scores.narrow(0, reals, fakes);
        // Each loss is a mean over its own batch, so each half's gradient has its own 1/N.
        let grad = Tensor::cat(
            &[
                logit_gradient(&real_scores, 1.0),
                logit_gradient(&fake_scores, 0.0),
            ],
            0,
        );
        let gradients = chain.backward(pass, &grad, Wanted::Parameters);
        nets.discriminator_part
            .apply_named_gradients(gradients.parameters);
        Ok(CriticStep {
            real_loss: config.loss.real(&real_scores),
            fake_loss: config.loss.fake(&fake_scores),
            real_scores,
            fake_scores,
            penalty: None,
        })
    }

    /// ∂L/∂images from D's backward pass (D's parameters get none), then G's parameter
    /// gradients from those.
    fn update_generator(
        &mut self,
        nets: &mut Networks,
        loss: GanLoss,
        noise: &Tensor,
        _: Option<&Tensor>,
    ) -> Tensor {
        let (generator, discriminator) = (&self.generator, &self.discriminator);
        let (images, generator_pass) = generator.forward(noise, true);
        let (scores, discriminator_pass) = discriminator.forward(&images, true);
        let loss = loss.generator(&scores);
        let through_d = discriminator.backward(
            discriminator_pass,
            &logit_gradient(&scores, 1.0),
            Wanted::Input,
        );
        let grad_images = through_d.input.expect("asked for the input's gradient");
        let gradients = generator.backward(generator_pass, &grad_images, Wanted::Parameters);
        nets.generator_part
            .apply_named_gradients(gradients.parameters);
        loss
    }
}

/// `∂/∂s` of the mean binary cross-entropy of logits `s` against `target`: `(σ(s) − t)/N`.
fn logit_gradient(scores: &Tensor, target: f64) -> Tensor {
    let n = scores.size()[0] as f64;
    tch::no_grad(|| (scores.sigmoid() - target) / n)
}
