//! Strided 4×4 (transposed) convolutions, the building block of DCGAN-shaped networks: each
//! one halves (or doubles) the rows and columns.

use gan_data::DeviceRng;
use tch::{nn, Tensor};

use super::spectral::SpectralNorm;

pub(crate) const KERNEL: i64 = 4;
pub(crate) const STRIDE: i64 = 2;
const PADDING: i64 = 1;

/// A (transposed) convolution's weight and bias, uniform in ±1/√fan_in as PyTorch draws them,
/// optionally spectrally normalised.
#[derive(Debug)]
pub(crate) struct ConvLayer {
    pub(crate) ws: Tensor,
    bs: Tensor,
    spectral: Option<SpectralNorm>,
}

impl ConvLayer {
    /// `transposed` weights are `(in, out, k, k)`, whose fan-in PyTorch counts as `out·k·k`.
    /// Weights come from `rng` streams `2·layer`, biases from `2·layer + 1`.
    pub(crate) fn new(
        p: nn::Path,
        input: i64,
        output: i64,
        transposed: bool,
        rng: &DeviceRng,
        layer: u64,
    ) -> Self {
        let device = p.device();
        let (shape, fan_in) = if transposed {
            ([input, output, KERNEL, KERNEL], output * KERNEL * KERNEL)
        } else {
            ([output, input, KERNEL, KERNEL], input * KERNEL * KERNEL)
        };
        let bound = 1.0 / (fan_in as f64).sqrt();
        let draw = |stream: u64, shape: &[i64]| {
            let u = rng
                .uniform(stream, shape, device)
                .expect("uniform draw on the var store's device");
            (u * 2.0 - 1.0) * bound
        };
        ConvLayer {
            ws: p.var_copy("weight", &draw(2 * layer, &shape)),
            bs: p.var_copy("bias", &draw(2 * layer + 1, &[output])),
            spectral: None,
        }
    }

    /// The layer with its weight divided by its spectral norm (a strided convolution's
    /// weight only: its rows are the output channels).
    pub(crate) fn spectrally_normalized(
        mut self,
        p: &nn::Path,
        rng: &DeviceRng,
        stream: u64,
    ) -> Self {
        self.spectral = Some(SpectralNorm::new(p, &self.ws, rng, stream));
        self
    }

    fn weight(&self) -> Tensor {
        match &self.spectral {
            Some(spectral) => spectral.normalize(&self.ws),
            None => self.ws.shallow_clone(),
        }
    }

    pub(crate) fn conv(&self, xs: &Tensor) -> Tensor {
        xs.conv2d(
            &self.weight(),
            Some(&self.bs),
            [STRIDE; 2],
            [PADDING; 2],
            [1; 2],
            1,
        )
    }

    pub(crate) fn conv_transpose(&self, xs: &Tensor) -> Tensor {
        xs.conv_transpose2d(
            &self.weight(),
            Some(&self.bs),
            [STRIDE; 2],
            [PADDING; 2],
            [0; 2],
            1,
            [1; 2],
        )
    }

    /// One power iteration of the spectral norm's estimate, if the layer has one.
    pub(crate) fn power_iteration(&self) {
        if let Some(spectral) = &self.spectral {
            spectral.power_iteration(&self.ws);
        }
    }
}
