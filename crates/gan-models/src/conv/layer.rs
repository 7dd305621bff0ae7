//! Strided 4×4 (transposed) convolutions, the building block of DCGAN-shaped networks: each
//! one halves (or doubles) the rows and columns.

use gan_data::DeviceRng;
use tch::{nn, Tensor};

use super::spectral::SpectralNorm;
use crate::products;

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
        let output = xs.conv2d(
            &self.weight(),
            Some(&self.bs),
            [STRIDE; 2],
            [PADDING; 2],
            [1; 2],
            1,
        );
        if !products::recording() {
            return output;
        }
        // Its im2col form: a row per output pixel, a column per input value under the kernel.
        let [batch, channels, rows, cols] = output.size()[..] else {
            unreachable!("a convolution's output is (N, C, H, W)")
        };
        let fan_in = xs.size()[1] * KERNEL * KERNEL;
        let shape = (batch * rows * cols, fan_in, channels);
        products::ran_through_autograd(shape, &self.ws, xs, &output);
        output
    }

    pub(crate) fn conv_transpose(&self, xs: &Tensor) -> Tensor {
        let output = xs.conv_transpose2d(
            &self.weight(),
            Some(&self.bs),
            [STRIDE; 2],
            [PADDING; 2],
            [0; 2],
            1,
            [1; 2],
        );
        if !products::recording() {
            return output;
        }
        // A row per input pixel, a column per output value under the kernel, then col2im.
        let [batch, channels, rows, cols] = xs.size()[..] else {
            unreachable!("a convolution's input is (N, C, H, W)")
        };
        let shape = (
            batch * rows * cols,
            channels,
            output.size()[1] * KERNEL * KERNEL,
        );
        products::ran_through_autograd(shape, &self.ws, xs, &output);
        output
    }

    /// One power iteration of the spectral norm's estimate, if the layer has one.
    pub(crate) fn power_iteration(&self) {
        if let Some(spectral) = &self.spectral {
            spectral.power_iteration(&self.ws);
        }
    }
}
