//! The GAN step with both networks run by hand ([`gan_models::manual`]) instead of through
//! autograd: the same updates, with the losses' gradients with respect to D's scores
//! written out. Used when both networks are chains and the loss is the non-saturating one,
//! with D's two updates taken separately or, when D has no batch statistics, as one update
//! on the real and the fake batch scored together; every other setting goes through
//! autograd.

use gan_models::manual::Wanted;
use tch::Tensor;

use super::{CriticStep, GanFamily};

impl GanFamily {
    /// Whether this configuration's steps can run by hand (see the module docs): as its
    /// config says, where the networks live on the CPU.
    pub(super) fn supports_by_hand(&self, batch_size: usize) -> bool {
        self.config.runs_by_hand(batch_size)
            && self.generator.chain().is_some()
            && self.discriminator.chain().is_some()
    }

    /// G's images for `noise`, flat, without gradients.
    pub(super) fn fakes_by_hand(&self, noise: &Tensor, train: bool) -> Tensor {
        let chain = self.generator.chain().expect("checked: G is a chain");
        chain.forward(noise, train).0
    }

    /// [`GanFamily::update_discriminator`] by hand.
    pub(super) fn update_discriminator_by_hand(
        &mut self,
        images: &Tensor,
        real: bool,
    ) -> (Tensor, Tensor) {
        let chain = self.discriminator.chain().expect("checked: D is a chain");
        let (scores, pass) = chain.forward(&images.flatten(1, -1), true);
        let (loss, target) = if real {
            (self.config.loss.real(&scores), 1.0)
        } else {
            (self.config.loss.fake(&scores), 0.0)
        };
        let gradients = chain.backward(pass, &logit_gradient(&scores, target), Wanted::Parameters);
        self.discriminator_part
            .apply_named_gradients(gradients.parameters);
        (loss, scores)
    }

    /// [`GanFamily::update_discriminator_jointly`] by hand, for a D without batch
    /// statistics: both batches in one pass, one update on the sum of the two mean losses.
    pub(super) fn update_discriminator_jointly_by_hand(
        &mut self,
        real: &Tensor,
        fake: &Tensor,
    ) -> CriticStep {
        let chain = self.discriminator.chain().expect("checked: D is a chain");
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
        self.discriminator_part
            .apply_named_gradients(gradients.parameters);
        CriticStep {
            real_loss: self.config.loss.real(&real_scores),
            fake_loss: self.config.loss.fake(&fake_scores),
            real_scores,
            fake_scores,
            penalty: None,
        }
    }

    /// [`GanFamily::update_generator`] by hand: ∂L/∂images from D's backward pass (D's
    /// parameters get none), then G's parameter gradients from those.
    pub(super) fn update_generator_by_hand(&mut self, noise: &Tensor) -> Tensor {
        let generator = self.generator.chain().expect("checked: G is a chain");
        let discriminator = self.discriminator.chain().expect("checked: D is a chain");
        let (images, generator_pass) = generator.forward(noise, true);
        let (scores, discriminator_pass) = discriminator.forward(&images, true);
        let loss = self.config.loss.generator(&scores);
        let through_d = discriminator.backward(
            discriminator_pass,
            &logit_gradient(&scores, 1.0),
            Wanted::Input,
        );
        let grad_images = through_d.input.expect("asked for the input's gradient");
        let gradients = generator.backward(generator_pass, &grad_images, Wanted::Parameters);
        self.generator_part
            .apply_named_gradients(gradients.parameters);
        loss
    }
}

/// `∂/∂s` of the mean binary cross-entropy of logits `s` against `target`: `(σ(s) − t)/N`.
fn logit_gradient(scores: &Tensor, target: f64) -> Tensor {
    let n = scores.size()[0] as f64;
    tch::no_grad(|| (scores.sigmoid() - target) / n)
}
