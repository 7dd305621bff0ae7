//! Everything measured about a set of images, against MNIST's test set.

use std::fmt;

use gan_data::{Images, Scaling, Split, MNIST_CLASSES};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::classifier::Classifier;
use crate::conditional::{ClassScore, LabelScores};
use crate::error::EvalError;
use crate::inception::{inception_score, mode_coverage, ModeCoverage};
use crate::manifold::precision_recall;
use crate::statistics::{frechet_distance, Gaussian};

/// Neighbourhood size of precision and recall (Kynkäänniemi et al. use k = 3).
pub const K: i64 = 3;
/// Samples of one class below which its FID is not reported: a covariance of the 84 LeNet
/// features from fewer is singular and its distance meaningless.
pub const MIN_CLASS_SAMPLES: usize = 100;

/// The metrics of one set of images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub samples: usize,
    /// Fréchet distance to the reference set in the classifier's 84-d feature space ("FID
    /// (LeNet features)"; not comparable with Inception-network FID).
    pub frechet_distance: f64,
    pub inception_score: f64,
    pub coverage: ModeCoverage,
    pub precision: f64,
    pub recall: f64,
    /// For samples drawn with requested classes: how well they show them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelScores>,
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
        write!(f, "class histogram          {:?}", self.coverage.histogram)?;
        if let Some(labels) = &self.labels {
            write!(f, "\n{labels}")?;
        }
        Ok(())
    }
}

/// The classifier with the reference set's features, ready to evaluate samples.
pub struct Evaluator {
    classifier: Classifier,
    _vs: VarStore,
    device: Device,
    reference: Gaussian,
    reference_features: Tensor,
    /// The reference set's Gaussian per class, for per-class distances (`None` for a class
    /// with too few reference images).
    class_references: Vec<Option<Gaussian>>,
}

impl Evaluator {
    /// With the committed classifier, against `reference` (the MNIST test set, whose labels
    /// give the per-class references of labelled samples).
    pub fn new(reference: &Split, device: Device) -> Result<Evaluator, EvalError> {
        let (classifier, vs) = Classifier::pretrained(device)?;
        Self::with_classifier(classifier, vs, reference, device)
    }

    pub fn with_classifier(
        classifier: Classifier,
        vs: VarStore,
        reference: &Split,
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
            class_references: Vec::new(),
        };
        let (features, _) = evaluator.embed(&reference.images)?;
        evaluator.reference = Gaussian::fit(&features)?;
        evaluator.class_references = (0..MNIST_CLASSES as u8)
            .map(|digit| {
                let rows = rows_of(&features, &reference.labels, digit)?;
                if rows.size()[0] < MIN_CLASS_SAMPLES as i64 {
                    return Ok(None);
                }
                Gaussian::fit(&rows).map(Some)
            })
            .collect::<Result<_, EvalError>>()?;
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
        self.report(&features, &probs)
    }

    /// All metrics of `samples` drawn with the classes `labels` asked for (one per image):
    /// those of [`Evaluator::evaluate`], plus how often the classifier reads the class asked
    /// for and the distance of each class's samples to that class's reference images.
    pub fn evaluate_labelled(
        &self,
        samples: &Images,
        labels: &[u8],
    ) -> Result<EvalReport, EvalError> {
        if labels.len() != samples.count {
            return Err(EvalError::LabelCount {
                images: samples.count,
                labels: labels.len(),
            });
        }
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| usize::from(l) >= MNIST_CLASSES)
        {
            return Err(EvalError::LabelOutOfRange { index, label });
        }
        let (features, probs) = self.embed(samples)?;
        let mut report = self.report(&features, &probs)?;
        let predicted = Vec::<i64>::try_from(probs.f_argmax(1, false)?)?;
        let read_as_asked = |digit: Option<u8>| {
            let (mut asked, mut read) = (0usize, 0usize);
            for (&p, &l) in predicted.iter().zip(labels) {
                if digit.is_none_or(|d| d == l) {
                    asked += 1;
                    read += usize::from(p == i64::from(l));
                }
            }
            (asked, read as f64 / asked.max(1) as f64)
        };
        let mut classes = Vec::with_capacity(MNIST_CLASSES);
        for (digit, class_reference) in (0u8..).zip(&self.class_references) {
            let (samples, label_accuracy) = read_as_asked(Some(digit));
            let frechet_distance = match class_reference {
                Some(reference) if samples >= MIN_CLASS_SAMPLES => {
                    let rows = rows_of(&features, labels, digit)?;
                    Some(frechet_distance(&Gaussian::fit(&rows)?, reference)?)
                }
                _ => None,
            };
            classes.push(ClassScore {
                digit,
                samples,
                label_accuracy,
                frechet_distance,
            });
        }
        report.labels = Some(LabelScores {
            label_accuracy: read_as_asked(None).1,
            classes,
        });
        Ok(report)
    }

    fn report(&self, features: &Tensor, probs: &Tensor) -> Result<EvalReport, EvalError> {
        let gaussian = Gaussian::fit(features)?;
        let (precision, recall) = precision_recall(&self.reference_features, features, K)?;
        Ok(EvalReport {
            samples: features.size()[0] as usize,
            frechet_distance: frechet_distance(&gaussian, &self.reference)?,
            inception_score: inception_score(probs)?,
            coverage: mode_coverage(probs)?,
            precision,
            recall,
            labels: None,
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

/// The rows of `features` whose label is `digit`.
fn rows_of(features: &Tensor, labels: &[u8], digit: u8) -> Result<Tensor, EvalError> {
    let index: Vec<i64> = (0..)
        .zip(labels)
        .filter(|(_, &l)| l == digit)
        .map(|(i, _)| i)
        .collect();
    let index = Tensor::from_slice(&index).to_device(features.device());
    Ok(features.f_index_select(0, &index)?)
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
