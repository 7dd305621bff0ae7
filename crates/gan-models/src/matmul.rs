//! Which library multiplies the matrices of dense layers: libtorch's BLAS or oneDNN.
//!
//! libtorch's fp32 `linear`/`mm` call MKL, whose AVX-512 kernels run only on Intel processors;
//! elsewhere it takes its AVX2 path. oneDNN, also inside libtorch, uses AVX-512 on any x86 CPU
//! that has it. Measured on a 2-core AMD EPYC (Zen 5) at the tutorial's shapes: MKL ≈ 205
//! GFLOP/s, oneDNN ≈ 450. A training run resolves [`MatmulChoice::Auto`] by timing its own
//! products with both ([`crate::matmul_tuning`]); where nothing is measured (networks built
//! on their own), `Auto` follows the vendor rule: oneDNN on non-Intel CPUs with AVX-512, BLAS
//! everywhere else (CUDA included).

use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use crate::error::ModelError;

/// What a config asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatmulChoice {
    /// The faster of the two for a training run's products, measured on the CPU at hand
    /// (see the module docs); BLAS on CUDA.
    #[default]
    Auto,
    /// libtorch's default: MKL or OpenBLAS on CPU, cuBLAS on CUDA.
    Blas,
    /// oneDNN; CPU only.
    Onednn,
}

/// The kernels a network actually uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulKernel {
    Blas,
    OneDnn,
}

impl MatmulChoice {
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        match s {
            "auto" => Ok(MatmulChoice::Auto),
            "blas" => Ok(MatmulChoice::Blas),
            "onednn" => Ok(MatmulChoice::Onednn),
            other => Err(ModelError::InvalidConfig {
                field: "matmul",
                value: other.to_owned(),
                why: "expected auto, blas or onednn",
            }),
        }
    }

    /// The kernel for `device`; fails when oneDNN is asked for where it cannot run.
    pub fn resolve(self, device: Device) -> Result<MatmulKernel, ModelError> {
        match self {
            MatmulChoice::Blas => Ok(MatmulKernel::Blas),
            MatmulChoice::Onednn if onednn_runs_on(device) => Ok(MatmulKernel::OneDnn),
            MatmulChoice::Onednn => Err(ModelError::InvalidConfig {
                field: "matmul",
                value: "onednn".to_owned(),
                why: "oneDNN runs on the CPU only, with a libtorch built with it; use blas or auto",
            }),
            MatmulChoice::Auto if onednn_runs_on(device) && avx512_outside_intel() => {
                Ok(MatmulKernel::OneDnn)
            }
            MatmulChoice::Auto => Ok(MatmulKernel::Blas),
        }
    }
}

impl MatmulKernel {
    pub fn name(self) -> &'static str {
        match self {
            MatmulKernel::Blas => "blas",
            MatmulKernel::OneDnn => "onednn",
        }
    }

    /// `xs · wsᵀ + bs`, differentiable in every argument.
    pub fn linear(self, xs: &Tensor, ws: &Tensor, bs: &Tensor) -> Tensor {
        match self {
            MatmulKernel::Blas => xs.linear(ws, Some(bs)),
            MatmulKernel::OneDnn => from_onednn(&to_onednn(xs).mkldnn_linear(ws, Some(bs))),
        }
    }

    /// `xs · bᵀ` for plain matrices, without gradient.
    pub fn product_with_transpose(self, xs: &Tensor, b: &Tensor) -> Tensor {
        match self {
            MatmulKernel::Blas => xs.mm(&b.tr()),
            MatmulKernel::OneDnn => {
                from_onednn(&to_onednn(xs).mkldnn_linear(&b.contiguous(), None::<Tensor>))
            }
        }
    }
}

/// oneDNN's weight-gradient primitive beats a forward product on transposed operands from
/// this batch size on. Measured on 2 cores, `mlp` training steps/s, primitive vs product, three
/// alternating runs each: batch 64: 86.7 vs 90.4; 128: 71.2 vs 67.5; 256: 44.9 vs 40.8;
/// 1024: 16.8 vs 14.3.
pub(crate) const ONEDNN_WEIGHT_PRIMITIVE_MIN_BATCH: i64 = 128;

pub(crate) fn to_onednn(xs: &Tensor) -> Tensor {
    xs.contiguous().to_mkldnn()
}

pub(crate) fn from_onednn(xs: &Tensor) -> Tensor {
    xs.to_dense(None, false)
}

pub(crate) fn onednn_runs_on(device: Device) -> bool {
    device == Device::Cpu && tch::utils::has_mkldnn()
}

/// Every kernel this machine runs on the CPU, for tests that check them all.
#[cfg(test)]
pub(crate) fn cpu_kernels() -> Vec<MatmulKernel> {
    let mut kernels = vec![MatmulKernel::Blas];
    if onednn_runs_on(Device::Cpu) {
        kernels.push(MatmulKernel::OneDnn);
    }
    kernels
}

#[cfg(target_arch = "x86_64")]
fn avx512_outside_intel() -> bool {
    // Leaf 0 holds the vendor string, "GenuineIntel" in EBX, EDX, ECX.
    let leaf = std::arch::x86_64::__cpuid(0);
    let intel = (leaf.ebx, leaf.edx, leaf.ecx) == (0x756e_6547, 0x4965_6e69, 0x6c65_746e);
    !intel && std::arch::is_x86_feature_detected!("avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512_outside_intel() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{kind, Kind};

    #[test]
    fn kernels_agree_on_values_and_gradients() {
        let xs = Tensor::randn([33, 70], kind::FLOAT_CPU).set_requires_grad(true);
        let ws = Tensor::randn([20, 70], kind::FLOAT_CPU).set_requires_grad(true);
        let bs = Tensor::randn([20], kind::FLOAT_CPU).set_requires_grad(true);
        let expected = xs.mm(&ws.tr()) + &bs;
        let grads = |y: &Tensor| {
            Tensor::run_backward(&[y.sum(Kind::Float)], &[&xs, &ws, &bs], false, false)
        };
        let want = grads(&expected);
        for kernel in cpu_kernels() {
            let y = kernel.linear(&xs, &ws, &bs);
            assert!(y.allclose(&expected, 1e-4, 1e-4, false), "{kernel:?}");
            for (got, want) in grads(&y).iter().zip(&want) {
                assert!(got.allclose(want, 1e-4, 1e-4, false), "{kernel:?}");
            }
            let p = tch::no_grad(|| kernel.product_with_transpose(&xs, &ws));
            assert!(p.allclose(&xs.mm(&ws.tr()), 1e-4, 1e-4, false));
        }
    }

    #[test]
    fn choices_parse_and_resolve() {
        assert_eq!(MatmulChoice::parse("onednn").unwrap(), MatmulChoice::Onednn);
        let err = MatmulChoice::parse("mkl").unwrap_err().to_string();
        assert!(err.contains("matmul = mkl"), "{err}");
        assert_eq!(
            MatmulChoice::Blas.resolve(Device::Cpu).unwrap(),
            MatmulKernel::Blas
        );
        let err = MatmulChoice::Onednn.resolve(Device::Cuda(0)).unwrap_err();
        assert!(err.to_string().contains("CPU only"), "{err}");
        assert_eq!(
            MatmulChoice::Auto.resolve(Device::Cuda(0)).unwrap(),
            MatmulKernel::Blas
        );
    }
}
