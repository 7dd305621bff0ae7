//! Everything measured about a set of images, against MNIST's test set.

use std::fmt;

use gan_data::{Images, Scaling};
use serde::Serialize;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::classifier::Classifier;
use crate::error::EvalError;
use crate::inception::{inception_score, mode_coverage, ModeCoverage};
use crate::manifold::precision_recall;
use crate::statistics::{frechet_distance, Gaussian};

/// Neighbourhood size of precision and recall (Kynkäänniemi et al. use k = 3).
pub const K: i64 = 3;

/// The metrics of one set of images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub samples: usize,
    /// Fréchet distance to the reference set in the classifier's 84-d feature space ("FID
    /// (LeNet features)"; not comparable with Inception-network FID).
    pub frechet_distance: f64,
    pub inception_score: f64,
    pub coverage: ModeCoverage,
    pub precision: f64,
    pub recall: f64,
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "samples                  {}", self.samples)?;
        writeln!(
            f,
            "FID (LeNet features)     {:.3}   lower is better",
            self.frechet_distance
        )?;
        writeln!(
            f,
            "Inception Score (LeNet)  {:.3}   higher is better, at most 10",
            self.inception_score
        )?;
        writeln!(f, "digits with ≥5% samples  {}/10", self.coverage.modes)?;
        writeln!(
            f,
            "KL(classes ‖ uniform)    {:.4}  0 = all digits equally often",
            self.coverage.kl_to_uniform
        )?;
        writeln!(
            f,
            "precision (k=3)          {:.3}   realism",
            self.precision
        )?;
        writeln!(f, "recall (k=3)             {:.3}   diversity", self.recall)?;
        write!(f, "class histogram          {:?}", self.coverage.histogram)
    }
}

/// The classifier with the reference set's features, ready to evaluate samples.
pub struct Evaluator {
    classifier: Classifier,
    _vs: VarStore,
    device: Device,
    reference: Gaussian,
    reference_features: Tensor,
}

impl Evaluator {
    /// With the committed classifier, against `reference` (the MNIST test set).
    pub fn new(reference: &Images, device: Device) -> Result<Evaluator, EvalError> {
        let (classifier, vs) = Classifier::pretrained(device)?;
        Self::with_classifier(classifier, vs, reference, device)
    }

    pub fn with_classifier(
        classifier: Classifier,
        vs: VarStore,
        reference: &Images,
        device: Device,
    ) -> Result<Evaluator, EvalError> {
        let mut evaluator = Evaluator {
            classifier,
            _vs: vs,
            device,
            reference: Gaussian {
                mean: Tensor::zeros([1], (Kind::Double, Device::Cpu)),
                cov: Tensor::zeros([1, 1], (Kind::Double, Device::Cpu)),
            },
            reference_features: Tensor::zeros([0], (Kind::Float, device)),
        };
        let (features, _) = evaluator.embed(reference)?;
        evaluator.reference = Gaussian::fit(&features)?;
        evaluator.reference_features = features;
        Ok(evaluator)
    }

    /// Features `(N, 84)` and class probabilities `(N, 10)` of `images`.
    pub fn embed(&self, images: &Images) -> Result<(Tensor, Tensor), EvalError> {
        if (images.rows, images.cols) != (28, 28) {
            return Err(EvalError::ImageSize {
                rows: images.rows,
                cols: images.cols,
                expected_rows: 28,
                expected_cols: 28,
            });
        }
        let all = images.to_tensor(Scaling::ZeroOne, self.device)?;
        let n = images.count as i64;
        let (mut features, mut probs) = (Vec::new(), Vec::new());
        tch::no_grad(|| -> Result<(), EvalError> {
            for start in (0..n).step_by(1024) {
                let batch = all.f_narrow(0, start, 1024.min(n - start))?;
                let f = self.classifier.features(&batch);
                probs.push(self.classifier.head(&f).f_softmax(1, Kind::Float)?);
                features.push(f);
            }
            Ok(())
        })?;
        Ok((Tensor::f_cat(&features, 0)?, Tensor::f_cat(&probs, 0)?))
    }

    /// All metrics of `samples` (at least 4 images; thousands for stable numbers).
    pub fn evaluate(&self, samples: &Images) -> Result<EvalReport, EvalError> {
        if samples.count < (K + 1) as usize {
            return Err(EvalError::TooFew {
                what: "evaluation",
                needed: (K + 1) as usize,
                got: samples.count,
            });
        }
        let (features, probs) = self.embed(samples)?;
        let gaussian = Gaussian::fit(&features)?;
        let (precision, recall) = precision_recall(&self.reference_features, &features, K)?;
        Ok(EvalReport {
            samples: samples.count,
            frechet_distance: frechet_distance(&gaussian, &self.reference)?,
            inception_score: inception_score(&probs)?,
            coverage: mode_coverage(&probs)?,
            precision,
            recall,
        })
    }

    /// Classification accuracy on labelled images.
    pub fn accuracy(&self, images: &Images, labels: &[u8]) -> Result<f64, EvalError> {
        let (_, probs) = self.embed(images)?;
        let predicted = Vec::<i64>::try_from(probs.f_argmax(1, false)?)?;
        let correct = predicted
            .iter()
            .zip(labels)
            .filter(|(p, l)| **p == i64::from(**l))
            .count();
        Ok(correct as f64 / labels.len().max(1) as f64)
    }
}

/// `count` images of uniform random bytes: the ceiling of every metric.
pub fn uniform_noise(count: usize, seed: u64) -> Result<Images, EvalError> {
    let bits = gan_data::DeviceRng::new(seed).bits(0, (count * 784) as i64, Device::Cpu)?;
    let pixels = Vec::<i64>::try_from(bits)?
        .into_iter()
        .map(|b| (b & 0xff) as u8)
        .collect();
    Ok(Images {
        count,
        rows: 28,
        cols: 28,
        pixels,
    })
}
