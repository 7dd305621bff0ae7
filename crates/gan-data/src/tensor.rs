//! Conversion to libtorch tensors (feature `tensor`): done once, then batches are gathered on
//! the device without copying the data set again.

use tch::{Device, Kind, TchError, Tensor};

use crate::batch::BatchSampler;
use crate::idx::Images;
use crate::mnist::Split;
use crate::scaling::Scaling;

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
}

impl Split {
    /// Labels as an `i64` tensor of shape `(count,)` on `device`.
    pub fn labels_tensor(&self, device: Device) -> Result<Tensor, TchError> {
        Tensor::f_from_slice(&self.labels)?
            .f_to_kind(Kind::Int64)?
            .f_to_device(device)
    }
}

impl BatchSampler {
    /// Rows of `data` (any tensor indexed by example along dimension 0) forming batch `step`.
    pub fn batch(&mut self, step: u64, data: &Tensor) -> Result<Tensor, TchError> {
        let indices = Tensor::f_from_slice(&self.indices(step))?.f_to_device(data.device())?;
        data.f_index_select(0, &indices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Sampling;

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
    fn batch_gathers_the_sampled_rows() {
        let data = images().to_tensor(Scaling::ZeroOne, Device::Cpu).unwrap();
        let mut sampler = BatchSampler::new(3, 5, Sampling::WithReplacement, 9);
        let indices = sampler.indices(4);
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
