//! How well a likelihood model (a VAE) explains held-out images: the mean ELBO and the
//! importance-weighted estimate of `log p(x)` (Burda et al. 2015), in nats per image and in
//! bits per dimension, the numbers the literature reports.

use std::fmt;

use gan_data::rng::stream_seed;
use gan_data::{Scaling, Split};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::data_tensors::label_tensor;
pub use crate::data_tensors::{binarize_images, HELD_OUT_BINARIZATION_SEED};
use crate::error::TrainError;
use crate::family::LikelihoodModel;

/// Images per pass of an estimate.
const IMAGES_PER_PASS: i64 = 100;

/// Held-out images ready for [`estimate`]: scaled to [0, 1] (binarized once for a binarized
/// model) with their labels, on the model's device.
#[derive(Debug)]
pub struct HeldOut {
    images: Tensor,
    labels: Tensor,
    binarized: bool,
}

impl HeldOut {
    /// The first `count` images of `split` (all of them for `None`).
    pub fn new(
        split: &Split,
        count: Option<usize>,
        binarize: bool,
        device: Device,
    ) -> Result<HeldOut, TrainError> {
        let count = count.unwrap_or(usize::MAX).min(split.images.count) as i64;
        if count == 0 {
            return Err(TrainError::invalid(
                "held-out images",
                0,
                "a likelihood needs at least one test image",
            ));
        }
        let mut images = split
            .images
            .to_tensor(Scaling::ZeroOne, device)?
            .narrow(0, 0, count);
        if binarize {
            images = binarize_images(&images)?;
        }
        let labels = label_tensor(&split.labels, device);
        let labels = labels.narrow(0, 0, count.min(labels.size()[0]));
        Ok(HeldOut {
            images,
            labels,
            binarized: binarize,
        })
    }

    pub fn count(&self) -> usize {
        self.images.size()[0] as usize
    }
}

/// The mean test bounds of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LikelihoodReport {
    pub images: usize,
    /// Scored on a binarized copy of the images.
    pub binarized: bool,
    /// Importance samples per image of the estimate.
    pub importance_samples: u32,
    /// Values per image (pixels), for bits per dimension.
    pub dimensions: usize,
    /// Mean evidence lower bound, nats per image.
    pub elbo: f64,
    /// Mean importance-weighted estimate of `log p(x)`, nats per image (a lower bound in
    /// expectation that rises to the truth as k grows).
    pub log_likelihood: f64,
}

impl LikelihoodReport {
    /// `-log p(x)` in nats: what papers tabulate as "test NLL".
    pub fn negative_log_likelihood(&self) -> f64 {
        -self.log_likelihood
    }

    pub fn bits_per_dim(&self) -> f64 {
        self.negative_log_likelihood() / (self.dimensions as f64 * std::f64::consts::LN_2)
    }
}

impl fmt::Display for LikelihoodReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let binarized = if self.binarized {
            format!(", binarized once (seed {HELD_OUT_BINARIZATION_SEED})")
        } else {
            ", intensities in [0, 1]".to_owned()
        };
        writeln!(f, "test images              {}{binarized}", self.images)?;
        writeln!(
            f,
            "test ELBO                {:.3} nats   a lower bound on log p(x)",
            self.elbo
        )?;
        write!(
            f,
            "{:<25}{:.3} nats   −log p(x), importance-weighted; {:.4} bits/dim",
            format!("test NLL (k = {})", self.importance_samples),
            self.negative_log_likelihood(),
            self.bits_per_dim()
        )
    }
}

/// The ELBO and the k-sample estimate of `log p(x)` of `model`, averaged over `held_out`, in
/// passes of a hundred images (memory is bounded by the model's own per-pass limit). The
/// estimate's noise is drawn from `seed`.
pub fn estimate(
    model: &dyn LikelihoodModel,
    held_out: &HeldOut,
    conditional: bool,
    k: u32,
    seed: u64,
) -> Result<LikelihoodReport, TrainError> {
    if held_out.binarized != model.binarized() {
        return Err(TrainError::invalid(
            "held-out images",
            if held_out.binarized {
                "binarized"
            } else {
                "intensities"
            },
            "score a model on data prepared as it was trained",
        ));
    }
    let n = held_out.images.size()[0];
    if conditional && held_out.labels.size()[0] != n {
        return Err(TrainError::invalid(
            "held-out labels",
            held_out.labels.size()[0],
            format!("a conditional model needs one label per image ({n})"),
        ));
    }
    let (mut elbo, mut log_likelihood) = (0.0, 0.0);
    let mut start = 0;
    for pass in 0u64.. {
        if start == n {
            break;
        }
        let size = IMAGES_PER_PASS.min(n - start);
        let images = held_out.images.narrow(0, start, size);
        let labels = conditional.then(|| held_out.labels.narrow(0, start, size));
        let (e, ll) = model.log_likelihood(&images, labels.as_ref(), k, stream_seed(seed, pass))?;
        elbo += e.sum(Kind::Double).double_value(&[]);
        log_likelihood += ll.sum(Kind::Double).double_value(&[]);
        start += size;
    }
    Ok(LikelihoodReport {
        images: n as usize,
        binarized: held_out.binarized,
        importance_samples: k,
        dimensions: held_out.images.numel() / n as usize,
        elbo: elbo / n as f64,
        log_likelihood: log_likelihood / n as f64,
    })
}
