//! Conversion to libtorch tensors (feature `tensor`): done once, then batches are gathered on
//! the device without copying the data set again.

use std::path::Path;

use tch::{Device, Kind, TchError, Tensor};

use crate::idx::Images;
use crate::mnist::Split;
use crate::scaling::Scaling;

/// Writes `tensors` as a safetensors file at `path`. A failure to write comes back as the
/// operating system's error: libtorch quotes it in Rust's `Debug` form (`IoError(Os { code:
/// 28, kind: StorageFull, … })`), which is no message for a person.
pub fn write_safetensors(tensors: &[(String, Tensor)], path: &Path) -> std::io::Result<()> {
    Tensor::write_safetensors(tensors, path).map_err(|error| {
        let text = error.to_string();
        let code = text.split_once("Os { code: ").and_then(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        });
        match code {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::other(text),
        }
    })
}

impl Images {
    /// All images as one `f32` tensor of shape `(count, 1, rows, cols)` on `device`, scaled.
    pub fn to_tensor(&self, scaling: Scaling, device: Device) -> Result<Tensor, TchError> {
        let (scale, offset) = scaling.affine();
        let shape = [self.count as i64, 1, self.rows as i64, self.cols as i64];
        // Move bytes (4× smaller than floats) and convert on the device.
        Tensor::f_from_slice(&self.pixels)?
            .f_to_device(device)?
            .f_view(shape)?
            .f_to_kind(Kind::Float)?
            .f_mul_scalar(scale)?
            .f_add_scalar(offset)
    }

    /// The inverse of [`Images::to_tensor`]: a `(N, 1, H, W)` (or `(N, H, W)`) tensor of
    /// `scaling`-scaled values back to bytes, rounding and clamping.
    pub fn from_tensor(tensor: &Tensor, scaling: Scaling) -> Result<Images, TchError> {
        let size = tensor.size();
        let (count, rows, cols) = match size.as_slice() {
            [n, 1, h, w] | [n, h, w] => (*n as usize, *h as usize, *w as usize),
            _ => {
                return Err(TchError::Shape(format!(
                    "expected images of shape (N, 1, H, W), got {size:?}"
                )))
            }
        };
        let (scale, offset) = scaling.affine();
        // Undo the scaling on the device, then move bytes.
        let bytes = tensor
            .f_to_kind(Kind::Float)?
            .f_sub_scalar(offset)?
            .f_div_scalar(scale)?
            .f_round()?
            .f_nan_to_num(0.0, 255.0, 0.0)?
            .f_clamp(0.0, 255.0)?
            .f_to_kind(Kind::Uint8)?
            .f_to_device(Device::Cpu)?
            .f_contiguous()?;
        let pixels = Vec::<u8>::try_from(bytes.f_flatten(0, -1)?)?;
        Ok(Images {
            count,
            rows,
            cols,
            pixels,
        })
    }
}

impl Split {
    /// Labels as an `i64` tensor of shape `(count,)` on `device`.
    pub fn labels_tensor(&self, device: Device) -> Result<Tensor, TchError> {
        Tensor::f_from_slice(&self.labels)?
            .f_to_kind(Kind::Int64)?
            .f_to_device(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{BatchSampler, Sampling};

    /// A write into a folder that does not exist fails with the OS's words, not libtorch's
    /// `Debug` text.
    #[test]
    fn safetensors_write_errors_are_the_os_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/folder/t.safetensors");
        let tensors = vec![("x".to_owned(), Tensor::from_slice(&[1f32, 2.0]))];
        let err = write_safetensors(&tensors, &path).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(2), "{err}");
        assert!(!err.to_string().contains("Os {"), "{err}");
        write_safetensors(&tensors, &dir.path().join("t.safetensors")).unwrap();
    }

    fn images() -> Images {
        Images {
            count: 3,
            rows: 2,
            cols: 2,
            pixels: vec![0, 255, 0, 255, 51, 51, 51, 51, 255, 255, 255, 255],
        }
    }

    #[test]
    fn tensor_has_nchw_shape_and_scaled_values() {
        let t = images().to_tensor(Scaling::ZeroOne, Device::Cpu).unwrap();
        assert_eq!(t.size(), vec![3, 1, 2, 2]);
        assert_eq!(t.kind(), Kind::Float);
        assert_eq!(t.double_value(&[0, 0, 0, 1]), 1.0);
        assert!((t.double_value(&[1, 0, 1, 1]) - 0.2).abs() < 1e-6);
        let t = images()
            .to_tensor(Scaling::MinusOneToOne, Device::Cpu)
            .unwrap();
        assert_eq!(t.double_value(&[0, 0, 0, 0]), -1.0);
        assert_eq!(t.double_value(&[2, 0, 1, 1]), 1.0);
    }

    #[test]
    fn from_tensor_inverts_to_tensor() {
        for scaling in [Scaling::ZeroOne, Scaling::MinusOneToOne] {
            let t = images().to_tensor(scaling, Device::Cpu).unwrap();
            assert_eq!(Images::from_tensor(&t, scaling).unwrap(), images());
        }
        let odd = Tensor::from_slice(&[f32::NAN, 7.0, -7.0, 0.5]).view([1, 1, 2, 2]);
        let back = Images::from_tensor(&odd, Scaling::MinusOneToOne).unwrap();
        assert_eq!(back.pixels, vec![0, 255, 0, 191]);
        assert!(Images::from_tensor(
            &Tensor::zeros([2, 3], (Kind::Float, Device::Cpu)),
            Scaling::ZeroOne
        )
        .is_err());
    }

    #[test]
    fn batch_gathers_the_sampled_rows() {
        let data = images().to_tensor(Scaling::ZeroOne, Device::Cpu).unwrap();
        let mut sampler = BatchSampler::new(3, 5, Sampling::WithReplacement, 9);
        let indices = Vec::<i64>::try_from(sampler.indices(4, Device::Cpu).unwrap()).unwrap();
        let batch = sampler.batch(4, &data).unwrap();
        assert_eq!(batch.size(), vec![5, 1, 2, 2]);
        for (row, &i) in indices.iter().enumerate() {
            assert!(batch.get(row as i64).equal(&data.get(i)));
        }
    }

    #[test]
    fn labels_become_int64() {
        let split = Split {
            images: images(),
            labels: vec![1, 9, 0],
        };
        let t = split.labels_tensor(Device::Cpu).unwrap();
        assert_eq!(t.kind(), Kind::Int64);
        assert_eq!(Vec::<i64>::try_from(&t).unwrap(), vec![1, 9, 0]);
    }
}
