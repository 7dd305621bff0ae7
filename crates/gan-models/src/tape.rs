//! Dense layers whose weight gradients are formed outside autograd, with the fastest product.
//!
//! Autograd takes a layer's weight gradient from the kernel that computed its forward pass;
//! for oneDNN that is a primitive slower than a forward product on transposed operands below
//! 128 rows (see `ONEDNN_WEIGHT_PRIMITIVE_MIN_BATCH`), so the choice is made here. On a
//! [`Tape`] a dense layer runs with its parameters detached and records its input and
//! output; [`Tape::gradients`] asks autograd only for the gradients of those outputs (and of
//! the parameters off the tape, such as BatchNorm's), then forms each `∂L/∂W = (∂L/∂y)ᵀ·x`
//! and `∂L/∂b = Σ ∂L/∂y` itself.

use std::cell::RefCell;

use tch::{Kind, Tensor};

use crate::execution::Execution;
use crate::matmul::{from_onednn, to_onednn, MatmulKernel, ONEDNN_WEIGHT_PRIMITIVE_MIN_BATCH};
use crate::plain_onednn;
use crate::products;

/// A dense layer `y = x·Wᵀ + b` whose parameters live in a var store, multiplying with the
/// kernel of the [`Execution`] it was built under.
#[derive(Debug)]
pub(crate) struct Dense {
    pub(crate) ws: Tensor,
    pub(crate) bs: Tensor,
    /// Full var-store names of `ws` and `bs`, which [`Tape::gradients`] matches.
    pub(crate) weight_name: String,
    pub(crate) bias_name: String,
    pub(crate) kernel: MatmulKernel,
    /// Whether the layer records itself on a tape ([`Dense::off_tape`]).
    taped: bool,
}

impl Dense {
    pub(crate) fn new(ws: Tensor, bs: Tensor, weight_name: String, bias_name: String) -> Self {
        let kernel = Execution::current().kernel_on(ws.device());
        Dense {
            ws,
            bs,
            weight_name,
            bias_name,
            kernel,
            taped: true,
        }
    }

    /// The layer with its gradients always from autograd, for a network whose other layers
    /// take theirs from autograd anyway (convolutions): recording one product among them
    /// saves nothing.
    pub(crate) fn off_tape(self) -> Self {
        Dense {
            taped: false,
            ..self
        }
    }

    /// The layer on its input: recorded on the tape when one is recording ([`Tape::record`]),
    /// else as autograd sees any op (gradients flow to the input and both parameters).
    pub(crate) fn forward(&self, xs: &Tensor) -> Tensor {
        let output = if self.taped && RECORDING.with(|r| r.borrow().is_some()) {
            let (output, record) = self.forward_taped(xs);
            RECORDING.with(|r| {
                if let Some(records) = r.borrow_mut().as_mut() {
                    records.push(record);
                }
            });
            output
        } else {
            self.kernel.linear(xs, &self.ws, &self.bs)
        };
        self.ran(xs, &output);
        output
    }

    /// `xs · weightᵀ + b` with a weight derived from the layer's own (a spectral norm's),
    /// through autograd and libtorch's default product.
    pub(crate) fn forward_with_weight(&self, xs: &Tensor, weight: &Tensor) -> Tensor {
        let output = xs.linear(weight, Some(&self.bs));
        self.ran(xs, &output);
        output
    }

    fn ran(&self, xs: &Tensor, output: &Tensor) {
        if !products::recording() {
            return;
        }
        let [fan_out, fan_in] = self.ws.size()[..] else {
            unreachable!("a dense weight is a matrix")
        };
        let shape = (xs.size()[0], fan_in, fan_out);
        products::ran_through_autograd(shape, &self.ws, xs, output);
    }

    /// The layer for a tape: gradients flow to the input through autograd; the parameters'
    /// come from [`Tape::gradients`] through the returned record.
    fn forward_taped(&self, xs: &Tensor) -> (Tensor, Record) {
        let (ws, bs) = (self.ws.detach(), self.bs.detach());
        let (output, input_onednn) = match self.kernel {
            MatmulKernel::Blas => (xs.linear(&ws, Some(&bs)), None),
            MatmulKernel::OneDnn => {
                let x = to_onednn(xs);
                (from_onednn(&x.mkldnn_linear(&ws, Some(&bs))), Some(x))
            }
        };
        // With a constant input (a data batch) nothing upstream needs a gradient; the output
        // still does, so it becomes a leaf of its own.
        let output = if output.requires_grad() {
            output
        } else {
            output.set_requires_grad(true)
        };
        let record = Record {
            weight_name: self.weight_name.clone(),
            bias_name: self.bias_name.clone(),
            input: xs.detach(),
            input_onednn,
            weights: ws,
            output: output.shallow_clone(),
            kernel: self.kernel,
        };
        (output, record)
    }
}

thread_local! {
    /// The records of the [`Tape::record`] running on this thread, if one is.
    static RECORDING: RefCell<Option<Vec<Record>>> = const { RefCell::new(None) };
}

/// Records of the dense layers run in one forward pass; see the module docs.
#[derive(Debug, Default)]
pub struct Tape {
    records: Vec<Record>,
}

#[derive(Debug)]
struct Record {
    weight_name: String,
    bias_name: String,
    input: Tensor,
    input_onednn: Option<Tensor>,
    weights: Tensor,
    output: Tensor,
    kernel: MatmulKernel,
}

enum Source {
    Autograd(usize),
    Weight(Vec<usize>),
    Bias(Vec<usize>),
}

impl Tape {
    /// Runs `f` (forward passes) with every dense layer it runs recorded, and returns its
    /// result with the tape; layers run outside `f` are not recorded (a network whose
    /// parameters stay fixed, as D in G's update). An empty tape leaves every gradient to
    /// autograd.
    pub fn record<R>(f: impl FnOnce() -> R) -> (R, Tape) {
        struct Restore(Option<Option<Vec<Record>>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                if let Some(outer) = self.0.take() {
                    RECORDING.with(|r| *r.borrow_mut() = outer);
                }
            }
        }
        let mut restore = Restore(Some(RECORDING.with(|r| r.replace(Some(Vec::new())))));
        let result = f();
        let outer = restore.0.take().unwrap_or_default();
        let records = RECORDING.with(|r| r.replace(outer)).unwrap_or_default();
        (result, Tape { records })
    }

    /// Gradients of `loss` with respect to `params` (full var-store names and tensors), in
    /// that order. Dense layers recorded here are matched by name; every other parameter must
    /// be reachable by autograd. A layer recorded twice gets the sum of both uses.
    pub fn gradients(&self, loss: &Tensor, params: &[(String, Tensor)]) -> Vec<Tensor> {
        products::gradients_taken(params.iter().map(|(_, tensor)| tensor));
        let records = &self.records;
        let mut inputs: Vec<Tensor> = records.iter().map(|r| r.output.shallow_clone()).collect();
        let sources: Vec<Source> = params
            .iter()
            .map(|(name, tensor)| {
                let uses = |key: fn(&Record) -> &str| -> Vec<usize> {
                    (0..records.len())
                        .filter(|&i| key(&records[i]) == name)
                        .collect()
                };
                let weight = uses(|r| &r.weight_name);
                let bias = uses(|r| &r.bias_name);
                if !weight.is_empty() {
                    Source::Weight(weight)
                } else if !bias.is_empty() {
                    Source::Bias(bias)
                } else {
                    inputs.push(tensor.shallow_clone());
                    Source::Autograd(inputs.len() - 1)
                }
            })
            .collect();
        let grads = Tensor::run_backward(&[loss], &inputs, false, false);
        tch::no_grad(|| {
            let layer_grads: Vec<(Tensor, Tensor)> = records
                .iter()
                .zip(&grads)
                .map(|(record, grad)| record.parameter_gradients(grad))
                .collect();
            let sum = |uses: &[usize], pick: fn(&(Tensor, Tensor)) -> &Tensor| {
                let mut total = pick(&layer_grads[uses[0]]).shallow_clone();
                for &i in &uses[1..] {
                    total += pick(&layer_grads[i]);
                }
                total
            };
            sources
                .iter()
                .map(|source| match source {
                    Source::Autograd(i) => grads[*i].shallow_clone(),
                    Source::Weight(uses) => sum(uses, |g| &g.0),
                    Source::Bias(uses) => sum(uses, |g| &g.1),
                })
                .collect()
        })
    }
}

impl Record {
    /// `(∂L/∂W, ∂L/∂b)` from `grad = ∂L/∂y`.
    fn parameter_gradients(&self, grad: &Tensor) -> (Tensor, Tensor) {
        let grad_onednn = (self.input_onednn.is_some()
            && uses_weight_primitive(&self.input)
            && !plain_products(self.kernel))
        .then(|| to_onednn(grad));
        dense_parameter_gradients(
            &self.input,
            self.input_onednn.as_ref(),
            &self.weights,
            self.kernel,
            grad,
            grad_onednn.as_ref(),
        )
    }
}

/// Whether a oneDNN layer with this input takes its weight gradient from oneDNN's primitive
/// (when products on plain tensors are not to be had).
pub(crate) fn uses_weight_primitive(input: &Tensor) -> bool {
    input.size()[0] >= ONEDNN_WEIGHT_PRIMITIVE_MIN_BATCH
}

/// Whether products with `kernel` run on plain tensors ([`crate::plain_onednn`]), transposed
/// operands included (as strided views, without copies).
pub(crate) fn plain_products(kernel: MatmulKernel) -> bool {
    kernel == MatmulKernel::OneDnn && plain_onednn::available()
}

/// A dense layer's `(∂L/∂W, ∂L/∂b)` from its input and `grad = ∂L/∂y` (also in oneDNN's
/// layout when the layer ran there and the primitive is used): with oneDNN, a product on plain
/// tensors where libtorch has it, else the faster of oneDNN's weight-gradient primitive and a
/// product on transposed operands. Call without gradients.
pub(crate) fn dense_parameter_gradients(
    input: &Tensor,
    input_onednn: Option<&Tensor>,
    weights: &Tensor,
    kernel: MatmulKernel,
    grad: &Tensor,
    grad_onednn: Option<&Tensor>,
) -> (Tensor, Tensor) {
    let bias = || grad.sum_dim_intlist(0, false, Kind::Float);
    if plain_products(kernel) {
        return (plain_onednn::weight_gradient(grad, input), bias());
    }
    if let (Some(input_onednn), Some(grad), true) =
        (input_onednn, grad_onednn, uses_weight_primitive(input))
    {
        let input = input_onednn;
        return input.mkldnn_linear_backward_weights(grad, weights, true);
    }
    // (∂L/∂y)ᵀ·x as a product with a transposed right operand, the form both kernels
    // take without copying their result.
    let weight = kernel.product_with_transpose(&grad.tr(), &input.tr());
    (weight, bias())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::kind;

    fn layer(fan_in: i64, fan_out: i64, name: &str, kernel: MatmulKernel) -> Dense {
        Execution::new(kernel, false).run(|| {
            Dense::new(
                Tensor::randn([fan_out, fan_in], kind::FLOAT_CPU).set_requires_grad(true),
                Tensor::randn([fan_out], kind::FLOAT_CPU).set_requires_grad(true),
                format!("{name}.weight"),
                format!("{name}.bias"),
            )
        })
    }

    /// A two-layer net with a parameter off the tape (`scale`), one layer used twice, and a
    /// constant input: the tape's gradients must equal autograd's.
    #[test]
    fn tape_gradients_equal_autograd_gradients() {
        for kernel in crate::matmul::cpu_kernels() {
            for batch in [7, ONEDNN_WEIGHT_PRIMITIVE_MIN_BATCH] {
                let (a, b) = (layer(12, 9, "a", kernel), layer(9, 9, "b", kernel));
                let scale = Tensor::randn([9], kind::FLOAT_CPU).set_requires_grad(true);
                let xs = Tensor::randn([batch, 12], kind::FLOAT_CPU);
                let loss_of = |y: Tensor| (y.tanh() * &scale).square().sum(Kind::Float);
                let params = vec![
                    ("a.bias".to_owned(), a.bs.shallow_clone()),
                    ("a.weight".to_owned(), a.ws.shallow_clone()),
                    ("b.weight".to_owned(), b.ws.shallow_clone()),
                    ("scale".to_owned(), scale.shallow_clone()),
                    ("b.bias".to_owned(), b.bs.shallow_clone()),
                ];
                let tensors: Vec<&Tensor> = params.iter().map(|p| &p.1).collect();

                let net = || b.forward(&b.forward(&a.forward(&xs).relu()).relu());
                let want = Tensor::run_backward(&[loss_of(net())], &tensors, false, false);

                let (y, tape) = Tape::record(net);
                assert_eq!(tape.records.len(), 3);
                let got = tape.gradients(&loss_of(y), &params);
                assert!(Tape::record(|| ()).1.records.is_empty());

                for ((name, _), (got, want)) in params.iter().zip(got.iter().zip(&want)) {
                    assert_eq!(got.size(), want.size(), "{name}");
                    assert!(
                        got.allclose(want, 1e-4, 1e-3, false),
                        "{kernel:?} batch {batch}: {name} differs by {}",
                        (got - want).abs().max().double_value(&[])
                    );
                }
            }
        }
    }
}
