//! oneDNN's inner product on plain tensors, through a small C++ shim (`csrc/onednn_linear.cpp`).
//!
//! tch reaches oneDNN's dense layers only as `mkldnn_linear`, whose input and output live in
//! oneDNN's own tensor type: every product then pays a copy in (`to_mkldnn`), a copy out
//! (`to_dense`) and a reorder of the weights into a blocked layout. libtorch also has
//! `mkldnn::_linear_pointwise` (what `torch.compile` emits for CPU linears), which runs the
//! product on plain tensors as they are, a transposed weight given as a strided view
//! included, and can apply an activation to the results as it writes them (oneDNN's
//! post-ops); the shim calls it through libtorch's dispatcher. Without gradients: the op has
//! no backward, so the chains of [`crate::manual`] and the tape's weight gradients use it.

use tch::Tensor;

use crate::transpose::transposed;

#[cfg(gan_onednn_shim)]
mod ffi {
    use std::ffi::{c_char, c_int, c_void};

    extern "C" {
        pub fn gan_onednn_linear_available() -> c_int;
        pub fn gan_onednn_linear(
            input: *const c_void,
            weight: *const c_void,
            bias: *const c_void,
            post_op: *const c_char,
            post_op_scalar: f64,
            error: *mut c_char,
            error_len: usize,
        ) -> *mut c_void;
    }
}

/// Whether [`linear`] runs here: the shim was built and this libtorch has the op.
pub(crate) fn available() -> bool {
    #[cfg(gan_onednn_shim)]
    {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        // SAFETY: takes no arguments; looks the op up in libtorch's dispatcher.
        *AVAILABLE.get_or_init(|| {
            tch::utils::has_mkldnn() && unsafe { ffi::gan_onednn_linear_available() } != 0
        })
    }
    #[cfg(not(gan_onednn_shim))]
    {
        false
    }
}

/// An elementwise function that oneDNN applies to a product's results as it writes them,
/// sparing a pass over the output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PostOp {
    None,
    /// `max(x, 0)`.
    Relu,
    /// `x` for positive `x`, else `slope · x`.
    LeakyRelu {
        slope: f64,
    },
    Tanh,
    Sigmoid,
}

impl PostOp {
    /// The activation with this slope for negative inputs (0: ReLU).
    pub(crate) fn leaky(slope: f64) -> Self {
        if slope == 0.0 {
            PostOp::Relu
        } else {
            PostOp::LeakyRelu { slope }
        }
    }

    /// libtorch's name for it (`mkldnn::_linear_pointwise`'s `attr`) and its scalar.
    #[cfg(gan_onednn_shim)]
    fn attr(self) -> (&'static std::ffi::CStr, f64) {
        match self {
            PostOp::None => (c"none", 0.0),
            PostOp::Relu => (c"relu", 0.0),
            PostOp::LeakyRelu { slope } => (c"leaky_relu", slope),
            PostOp::Tanh => (c"tanh", 0.0),
            PostOp::Sigmoid => (c"sigmoid", 0.0),
        }
    }
}

/// `xs · wsᵀ + bs` for float CPU matrices `xs` `(N, in)` and `ws` `(out, in)`, computed by
/// oneDNN without layout conversions. Call without gradients, where [`available`].
///
/// # Panics
/// When libtorch refuses (as tch's own ops do), with its message.
pub(crate) fn linear(xs: &Tensor, ws: &Tensor, bs: Option<&Tensor>) -> Tensor {
    linear_then(xs, ws, bs, PostOp::None)
}

/// [`linear`], then `post_op` on every value, in one pass.
pub(crate) fn linear_then(
    xs: &Tensor,
    ws: &Tensor,
    bs: Option<&Tensor>,
    post_op: PostOp,
) -> Tensor {
    #[cfg(gan_onednn_shim)]
    {
        use std::ffi::{c_char, c_void, CStr};
        let mut error = [0 as c_char; 512];
        let bias = bs.map_or(std::ptr::null(), |b| b.as_ptr() as *const c_void);
        let (attr, scalar) = post_op.attr();
        // SAFETY: the pointers are live tch tensors (`at::Tensor*`) for the call's duration;
        // the result is a new `at::Tensor*` that the returned `Tensor` owns.
        unsafe {
            let result = ffi::gan_onednn_linear(
                xs.as_ptr() as *const c_void,
                ws.as_ptr() as *const c_void,
                bias,
                attr.as_ptr(),
                scalar,
                error.as_mut_ptr(),
                error.len(),
            );
            if result.is_null() {
                let message = CStr::from_ptr(error.as_ptr()).to_string_lossy();
                panic!("mkldnn::_linear_pointwise failed: {message}");
            }
            Tensor::from_ptr(result as *mut torch_sys::C_tensor)
        }
    }
    #[cfg(not(gan_onednn_shim))]
    {
        let _ = (xs, ws, bs, post_op);
        panic!("gan-models was built without its oneDNN shim (no libtorch headers)")
    }
}

/// `gradᵀ · input`, a dense layer's weight gradient, for float CPU matrices `grad` `(N, out)`
/// and `input` `(N, in)`. Call without gradients, where [`available`].
pub(crate) fn weight_gradient(grad: &Tensor, input: &Tensor) -> Tensor {
    // The op copies a transposed left operand into row-major order itself, on one thread;
    // this copy is split over libtorch's team. The right operand stays a strided view.
    linear(&transposed(grad), &input.tr(), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{kind, Kind};

    /// Whether to test the op: wherever the shim was built against a libtorch with oneDNN,
    /// the op must be there.
    fn runs() -> bool {
        let expected = cfg!(gan_onednn_shim) && tch::utils::has_mkldnn();
        assert_eq!(
            available(),
            expected,
            "the shim finds mkldnn::_linear_pointwise"
        );
        expected
    }

    #[test]
    fn equals_libtorch_linear() {
        if !runs() {
            return;
        }
        for (rows, fan_in, fan_out) in [(1, 3, 2), (7, 100, 256), (128, 1024, 784)] {
            let xs = Tensor::randn([rows, fan_in], kind::FLOAT_CPU);
            let ws = Tensor::randn([fan_out, fan_in], kind::FLOAT_CPU);
            let bs = Tensor::randn([fan_out], kind::FLOAT_CPU);
            for bias in [Some(&bs), None] {
                let got = linear(&xs, &ws, bias);
                let want = xs.linear(&ws, bias);
                assert_eq!(got.size(), [rows, fan_out]);
                assert_eq!(got.kind(), Kind::Float);
                assert!(!got.is_mkldnn(), "a plain tensor");
                let scale = want.abs().max().double_value(&[]).max(1.0);
                let error = (&got - &want).abs().max().double_value(&[]);
                assert!(
                    error <= 1e-5 * scale * fan_in as f64,
                    "{rows}×{fan_in}→{fan_out}: {error}"
                );
            }
        }
    }

    #[test]
    fn applies_post_ops_as_libtorch_does() {
        if !runs() {
            return;
        }
        let xs = Tensor::randn([64, 100], kind::FLOAT_CPU);
        let ws = Tensor::randn([30, 100], kind::FLOAT_CPU) * 0.1;
        let bs = Tensor::randn([30], kind::FLOAT_CPU);
        let product = linear(&xs, &ws, Some(&bs));
        let cases = [
            (PostOp::leaky(0.0), product.relu()),
            (
                PostOp::leaky(0.2),
                product.clamp_min(0.0) + product.clamp_max(0.0) * 0.2,
            ),
            (PostOp::Tanh, product.tanh()),
            (PostOp::Sigmoid, product.sigmoid()),
        ];
        for (post_op, want) in cases {
            let got = linear_then(&xs, &ws, Some(&bs), post_op);
            assert!(
                got.allclose(&want, 1e-6, 1e-6, false),
                "{post_op:?}: {}",
                (&got - &want).abs().max().double_value(&[])
            );
        }
    }

    #[test]
    fn forms_weight_gradients() {
        if !runs() {
            return;
        }
        let (grad, input) = (
            Tensor::randn([128, 200], kind::FLOAT_CPU),
            Tensor::randn([128, 300], kind::FLOAT_CPU),
        );
        let want = grad.tr().mm(&input);
        assert!(weight_gradient(&grad, &input).allclose(&want, 1e-4, 1e-3, false));
    }

    /// Transposed operands as strided views, as the backward passes use them.
    #[test]
    fn takes_transposed_views() {
        if !runs() {
            return;
        }
        let (rows, fan_in, fan_out) = (128, 300, 200);
        let xs = Tensor::randn([rows, fan_in], kind::FLOAT_CPU);
        let ws = Tensor::randn([fan_out, fan_in], kind::FLOAT_CPU);
        let grad = Tensor::randn([rows, fan_out], kind::FLOAT_CPU);
        let cases = [
            (linear(&grad, &ws.tr(), None), grad.mm(&ws)),
            (linear(&grad.tr(), &xs.tr(), None), grad.tr().mm(&xs)),
        ];
        for (got, want) in cases {
            assert_eq!(got.size(), want.size());
            assert!(got.allclose(&want, 1e-4, 1e-3, false));
        }
    }

    #[test]
    fn a_bad_shape_is_an_error_with_libtorchs_message() {
        if !runs() {
            return;
        }
        let xs = Tensor::randn([4, 3], kind::FLOAT_CPU);
        let ws = Tensor::randn([2, 5], kind::FLOAT_CPU);
        let caught = std::panic::catch_unwind(|| linear(&xs, &ws, None));
        let message = *caught
            .expect_err("3 ≠ 5 inputs")
            .downcast::<String>()
            .unwrap();
        assert!(message.contains("_linear_pointwise"), "{message}");
    }
}
