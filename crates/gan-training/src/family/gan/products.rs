//! A GAN step's matrix products, for speed ceilings and `matmul = auto`.

use gan_models::matmul_tuning::{ProductRole::*, StepProduct};

use super::GanConfig;
use crate::family::StepProducts;

impl GanConfig {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::gan;

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
