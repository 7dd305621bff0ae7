//! A model's matrix products, measured rather than derived: a copy of the model takes one
//! cycle of training steps on blank images on the CPU while its layers record what they
//! multiply ([`gan_models::products`]). `matmul = auto` times these products, and the
//! bench's ceilings count them; no family writes a formula for them.

use gan_models::conditioning::CLASSES;
use gan_models::matmul_tuning::{OneDnnForm, StepProduct};
use gan_models::products::record_products;
use gan_models::MatmulKernel;
use tch::{kind, Device, Tensor};

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::execution::build_family;
use crate::family::Batch;

/// The matrix products of one training step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepProducts {
    /// Each distinct product with how often a step runs it (averaged over the family's
    /// cycle of steps, rounded up).
    pub products: Vec<StepProduct>,
    /// How the run's dense layers would use oneDNN: as chains on plain tensors where its
    /// steps run networks by hand, else as layers through autograd.
    pub form: OneDnnForm,
}

/// The products of a step of `config`'s model at its batch size, measured on a copy of it.
pub fn step_products(config: &TrainConfig) -> Result<StepProducts, TrainError> {
    let mut family = build_family(config, Device::Cpu, MatmulKernel::Blas)?;
    let [channels, rows, cols] = config.model.image_shape();
    let batch = config.batch_size as i64;
    let images = Tensor::zeros([batch, channels, rows, cols], kind::FLOAT_CPU);
    let labels = family
        .conditional()
        .then(|| Tensor::arange(batch, kind::INT64_CPU).remainder(CLASSES));
    let cycle = family.steps_per_cycle();
    let (stepped, seen) = record_products(|| {
        (0..u64::from(cycle)).try_for_each(|step| {
            family
                .step(&Batch {
                    step,
                    images: images.shallow_clone(),
                    labels: labels.as_ref().map(Tensor::shallow_clone),
                    noise: None,
                })
                .map(drop)
        })
    });
    stepped?;
    let seen = seen.per_step(cycle);
    Ok(StepProducts {
        products: seen.products,
        form: if seen.by_hand {
            OneDnnForm::Plain
        } else {
            OneDnnForm::Layer
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gan_models::matmul_tuning::ProductRole;

    /// The tutorial's step at batch 128: 9.37 M multiply-adds per image (G 1.46 M, D
    /// 0.67 M; G forward twice, D forward three times, a weight gradient per update and an
    /// input gradient per layer that passes one on), × 2 FLOPs × 128.
    #[test]
    fn the_tutorial_step_multiplies_what_its_layers_do() {
        let mut config = TrainConfig::preset("tutorial").unwrap();
        config.batch_size = 128;
        let step = step_products(&config).unwrap();
        let flops: f64 = step.products.iter().map(StepProduct::flops).sum();
        assert!((flops / 1e9 - 2.398).abs() < 0.01, "{flops}");
        assert_eq!(step.form, OneDnnForm::Plain);
        // D's first layer: forward on the real, the fake and G's images, a weight gradient
        // in each of D's two updates, and an input gradient only in G's update.
        let count = |shape, role| {
            step.products
                .iter()
                .find(|p| p.shape == shape && p.role == role)
                .map_or(0, |p| p.count)
        };
        assert_eq!(count((128, 784, 512), ProductRole::Forward), 3);
        assert_eq!(count((512, 128, 784), ProductRole::WeightGradient), 2);
        assert_eq!(count((128, 512, 784), ProductRole::InputGradient), 1);
    }

    /// WGAN-GP's critic takes five steps per G step: G's products count a fifth, rounded up.
    #[test]
    fn a_cycle_of_steps_is_averaged() {
        let mut config = TrainConfig::preset("wgan-gp").unwrap();
        config.batch_size = 8;
        let step = step_products(&config).unwrap();
        let g_projection_weight = step
            .products
            .iter()
            .find(|p| p.role == ProductRole::WeightGradient && p.shape.1 == 8 && p.shape.2 == 100)
            .expect("G's projection has a weight gradient");
        assert_eq!(g_projection_weight.count, 1);
        assert_eq!(step.form, OneDnnForm::Layer);
    }
}
