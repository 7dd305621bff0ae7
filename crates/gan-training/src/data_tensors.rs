//! Tensors the networks take, made from data: class labels, and binarized images.

use gan_data::DeviceRng;
use tch::{Device, Kind, Tensor};

use crate::error::TrainError;

/// Seed of the one binarization of the held-out images that binarized models are scored on,
/// so every model and every evaluation sees the same binary test set.
pub const HELD_OUT_BINARIZATION_SEED: u64 = 0;

/// Class labels as the `(N,)` `i64` tensor networks take, on `device`.
pub(crate) fn label_tensor(labels: &[u8], device: Device) -> Tensor {
    let labels: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
    Tensor::from_slice(&labels).to_device(device)
}

/// `images` in [0, 1] as one Bernoulli draw per pixel, the same draw for the same images
/// (seed [`HELD_OUT_BINARIZATION_SEED`]).
pub fn binarize_images(images: &Tensor) -> Result<Tensor, TrainError> {
    let u =
        DeviceRng::new(HELD_OUT_BINARIZATION_SEED).uniform(0, &images.size(), images.device())?;
    Ok(u.lt_tensor(images).to_kind(Kind::Float))
}
