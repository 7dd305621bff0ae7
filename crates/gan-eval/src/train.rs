//! Training the classifier (`gan eval train-classifier`): seeded, a few minutes on 2 cores.

use gan_data::{BatchSampler, Mnist, Sampling, Scaling};
use tch::nn::{self, ModuleT, OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

use crate::classifier::Classifier;
use crate::error::EvalError;

/// How the classifier is trained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassifierTraining {
    pub epochs: usize,
    pub batch_size: usize,
    /// Adam's learning rate in the first epoch; it decays by `decay` each epoch.
    pub lr: f64,
    pub decay: f64,
    pub seed: u64,
}

impl Default for ClassifierTraining {
    fn default() -> Self {
        ClassifierTraining {
            epochs: 6,
            batch_size: 128,
            lr: 1e-3,
            decay: 0.7,
            seed: 1,
        }
    }
}

/// Trains on `mnist.train`; reports `(epoch, mean loss, test accuracy)` after each epoch and
/// returns the network with its final test accuracy.
pub fn train_classifier(
    mnist: &Mnist,
    cfg: ClassifierTraining,
    device: Device,
    on_epoch: &mut dyn FnMut(usize, f64, f64),
) -> Result<(Classifier, VarStore, f64), EvalError> {
    tch::manual_seed(cfg.seed as i64);
    let vs = VarStore::new(device);
    let classifier = Classifier::new(&vs.root());
    let mut opt = nn::Adam::default().build(&vs, cfg.lr)?;
    let images = mnist.train.images.to_tensor(Scaling::ZeroOne, device)?;
    let labels = mnist.train.labels_tensor(device)?;
    let test_images = mnist.test.images.to_tensor(Scaling::ZeroOne, device)?;
    let test_labels = mnist.test.labels_tensor(device)?;
    let mut sampler = BatchSampler::new(
        mnist.train.len(),
        cfg.batch_size,
        Sampling::ShuffledEpochs,
        cfg.seed,
    );
    let steps_per_epoch = mnist.train.len().div_ceil(cfg.batch_size) as u64;
    let mut accuracy_now = 0.0;
    for epoch in 0..cfg.epochs {
        opt.set_lr(cfg.lr * cfg.decay.powi(epoch as i32));
        let mut total = 0.0;
        for i in 0..steps_per_epoch {
            let step = epoch as u64 * steps_per_epoch + i;
            let index = sampler.indices(step, device)?;
            let xs = images.f_index_select(0, &index)?;
            let ys = labels.f_index_select(0, &index)?;
            let loss = classifier
                .forward_t(&xs, true)
                .cross_entropy_for_logits(&ys);
            opt.backward_step(&loss);
            total += loss.double_value(&[]);
        }
        accuracy_now = accuracy(&classifier, &test_images, &test_labels)?;
        on_epoch(epoch + 1, total / steps_per_epoch as f64, accuracy_now);
    }
    Ok((classifier, vs, accuracy_now))
}

/// Fraction of `images` whose predicted class equals `labels`.
pub fn accuracy(
    classifier: &Classifier,
    images: &Tensor,
    labels: &Tensor,
) -> Result<f64, EvalError> {
    let n = images.size()[0];
    let mut correct = 0i64;
    tch::no_grad(|| -> Result<(), EvalError> {
        for start in (0..n).step_by(2048) {
            let len = 2048.min(n - start);
            let predicted = classifier
                .forward_t(&images.f_narrow(0, start, len)?, false)
                .argmax(1, false);
            correct += predicted
                .eq_tensor(&labels.f_narrow(0, start, len)?)
                .sum(Kind::Int64)
                .int64_value(&[]);
        }
        Ok(())
    })?;
    Ok(correct as f64 / n.max(1) as f64)
}
