//! MLPs run forward and backward by hand, without autograd.
//!
//! An MLP's training step is a few large products and, between them, small elementwise work
//! (an activation, a BatchNorm) that eager autograd spreads over many kernels, graph nodes
//! and wake-ups of the thread team. A [`Chain`] is the same network seen as a list of dense
//! layers, each optionally followed by a (leaky) ReLU and a BatchNorm, and an output
//! squashing: its forward pass keeps what the backward pass needs, and its backward pass
//! forms the input's and the parameters' gradients itself, with one fused pass per layer
//! each way (module `kernels`) between the products. Values and gradients equal autograd's up to
//! rounding (tested against it). CPU only: the fused passes read the tensors' memory. With
//! oneDNN every product runs on plain tensors where libtorch has the op for it (module
//! `plain_onednn`), so activations and gradients never change layout, and the products
//! apply the activation of a layer without BatchNorm and the output squashing themselves as
//! they write their results, sparing those passes.

mod kernels;
mod mlp;

use tch::{Kind, Tensor};

use crate::config::OutputActivation;
use crate::matmul::{from_onednn, to_onednn, MatmulKernel};
use crate::matmul_tuning::ProductRole;
use crate::plain_onednn::{self, PostOp};
use crate::products;
use crate::tape::{dense_parameter_gradients, plain_products, uses_weight_primitive, Dense};
use kernels::{Buffer, NormBackward, NormBuffers, Shape};

/// A network as a chain of dense layers; see the module docs. It shares its tensors with
/// the network's var store, so it runs on the network's current weights.
#[derive(Debug)]
pub struct Chain {
    layers: Vec<ChainLayer>,
    output: Option<OutputActivation>,
    kernel: MatmulKernel,
    /// Whether every product runs on plain tensors (oneDNN's op is there for `kernel`).
    plain: bool,
}

/// A dense layer, then optionally an activation and a BatchNorm over its features.
#[derive(Debug)]
pub(crate) struct ChainLayer {
    pub(crate) dense: Dense,
    /// The activation's slope for negative inputs (0 for ReLU); none for a linear layer.
    pub(crate) slope: Option<f64>,
    pub(crate) norm: Option<ChainNorm>,
}

/// A BatchNorm of a chain (its affine parameters and running statistics) and its settings.
#[derive(Debug)]
pub(crate) struct ChainNorm {
    pub(crate) gamma: Tensor,
    pub(crate) beta: Tensor,
    pub(crate) running_mean: Tensor,
    pub(crate) running_var: Tensor,
    pub(crate) momentum: f64,
    pub(crate) eps: f64,
    /// Full var-store names of γ and β.
    pub(crate) weight_name: String,
    pub(crate) bias_name: String,
}

/// What a forward pass keeps for its backward pass.
#[derive(Debug)]
pub struct ChainPass {
    layers: Vec<SavedLayer>,
    /// The chain's output, after the squashing.
    output: Tensor,
}

#[derive(Debug)]
struct SavedLayer {
    input: Tensor,
    input_onednn: Option<Tensor>,
    /// The activation's output, when the layer has one.
    activated: Option<Tensor>,
    /// The batch's mean and `1/√(var + ε)`, when its BatchNorm used them.
    statistics: Option<(Tensor, Tensor)>,
}

/// Which gradients a backward pass forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// The parameters' (a network being trained).
    Parameters,
    /// The input's only (a network that passes gradients through, such as D in G's update).
    Input,
}

/// Gradients from [`Chain::backward`].
#[derive(Debug)]
pub struct ChainGradients {
    /// Full var-store names and gradients, for [`Wanted::Parameters`].
    pub parameters: Vec<(String, Tensor)>,
    /// `∂L/∂input`, for [`Wanted::Input`].
    pub input: Option<Tensor>,
}

impl Chain {
    /// The chain of `layers` (at least one), multiplying with their kernel.
    pub(crate) fn new(layers: Vec<ChainLayer>, output: Option<OutputActivation>) -> Self {
        let kernel = layers[0].dense.kernel;
        crate::execution::Execution::count_chain();
        Chain {
            layers,
            output,
            kernel,
            plain: plain_products(kernel),
        }
    }

    /// The chain on `xs` (`(N, features)`, on the CPU), with batch statistics that also
    /// update the running ones when `train`, else with the running ones. Returns the output
    /// `(N, out)` and what [`Chain::backward`] needs. BatchNorm in training mode needs N ≥ 2.
    pub fn forward(&self, xs: &Tensor, train: bool) -> (Tensor, ChainPass) {
        tch::no_grad(|| {
            let mut xs = xs.contiguous();
            let mut saved = Vec::with_capacity(self.layers.len());
            let mut squashed = false;
            for (i, layer) in self.layers.iter().enumerate() {
                let post_op = self.post_op(layer, i + 1 == self.layers.len());
                let (outputs, input_onednn) = self.dense_forward(&layer.dense, &xs, post_op);
                if products::recording() {
                    products::ran_by_hand(product_shape(&layer.dense, &xs), ProductRole::Forward);
                }
                let mut record = SavedLayer {
                    input: xs,
                    input_onednn,
                    activated: None,
                    statistics: None,
                };
                xs = match layer.slope {
                    Some(_) if post_op != PostOp::None => {
                        record.activated = Some(outputs.shallow_clone());
                        outputs
                    }
                    Some(slope) => {
                        let (normalized, statistics) =
                            activate_normalize(&outputs, slope, layer.norm.as_ref(), train);
                        record.activated = Some(outputs);
                        record.statistics = statistics;
                        normalized
                    }
                    None => {
                        squashed = post_op != PostOp::None;
                        outputs
                    }
                };
                saved.push(record);
            }
            let output = match self.output {
                _ if squashed => xs,
                Some(OutputActivation::Tanh) => xs.tanh(),
                Some(OutputActivation::Sigmoid) => xs.sigmoid(),
                None => xs,
            };
            let pass = ChainPass {
                layers: saved,
                output: output.shallow_clone(),
            };
            (output, pass)
        })
    }

    /// From `grad = ∂L/∂output` of `pass`, the gradients `wanted`. The pass must come from
    /// this chain's [`Chain::forward`] in training mode (batch statistics), or from a chain
    /// without BatchNorm.
    pub fn backward(&self, pass: ChainPass, grad: &Tensor, wanted: Wanted) -> ChainGradients {
        tch::no_grad(|| {
            let mut grad = match self.output {
                Some(OutputActivation::Tanh) => Tensor::tanh_backward(grad, &pass.output),
                Some(OutputActivation::Sigmoid) => Tensor::sigmoid_backward(grad, &pass.output),
                // A copy: the passes below overwrite it.
                None => grad.copy(),
            };
            let mut parameters = Vec::new();
            let plain = self.plain;
            let on_onednn = self.kernel == MatmulKernel::OneDnn && !plain;
            for (i, (layer, saved)) in self.layers.iter().zip(&pass.layers).enumerate().rev() {
                // `grad` is ∂L/∂(this layer's output), fresh and ours to overwrite.
                parameters.extend(activation_backward(layer, saved, &grad, wanted));
                let grad_onednn = on_onednn.then(|| to_onednn(&grad));
                let shape =
                    products::recording().then(|| product_shape(&layer.dense, &saved.input));
                if wanted == Wanted::Parameters {
                    if let Some((m, k, n)) = shape {
                        products::ran_by_hand((n, m, k), ProductRole::WeightGradient);
                    }
                    let primitive = on_onednn && uses_weight_primitive(&saved.input);
                    // Made here when the forward product ran on plain tensors.
                    let input_onednn = match &saved.input_onednn {
                        Some(x) => Some(x.shallow_clone()),
                        None => primitive.then(|| to_onednn(&saved.input)),
                    };
                    let (weight, bias) = dense_parameter_gradients(
                        &saved.input,
                        input_onednn.as_ref(),
                        &layer.dense.ws,
                        self.kernel,
                        &grad,
                        grad_onednn.as_ref().filter(|_| primitive),
                    );
                    parameters.push((layer.dense.bias_name.clone(), bias));
                    parameters.push((layer.dense.weight_name.clone(), weight));
                }
                if i > 0 || wanted == Wanted::Input {
                    if let Some((m, k, n)) = shape {
                        products::ran_by_hand((m, n, k), ProductRole::InputGradient);
                    }
                    grad = match &grad_onednn {
                        None if plain => plain_onednn::linear(&grad, &layer.dense.ws.tr(), None),
                        Some(g) => from_onednn(&Tensor::mkldnn_linear_backward_input(
                            saved.input.size(),
                            g,
                            &layer.dense.ws,
                        )),
                        None => grad.mm(&layer.dense.ws),
                    };
                }
            }
            ChainGradients {
                parameters,
                input: (wanted == Wanted::Input).then_some(grad),
            }
        })
    }

    /// What the layer's product applies to its results as it writes them, when products run
    /// on plain tensors: the activation of a layer without BatchNorm, or the chain's output
    /// squashing after its last layer when that is linear.
    fn post_op(&self, layer: &ChainLayer, last: bool) -> PostOp {
        if !self.plain {
            return PostOp::None;
        }
        match (layer.slope, &layer.norm) {
            (Some(slope), None) => PostOp::leaky(slope),
            (None, None) if last => match self.output {
                Some(OutputActivation::Tanh) => PostOp::Tanh,
                Some(OutputActivation::Sigmoid) => PostOp::Sigmoid,
                None => PostOp::None,
            },
            _ => PostOp::None,
        }
    }

    /// The layer's product followed by `post_op` (only where products run on plain
    /// tensors), and its input in oneDNN's layout when the product made one.
    fn dense_forward(
        &self,
        dense: &Dense,
        xs: &Tensor,
        post_op: PostOp,
    ) -> (Tensor, Option<Tensor>) {
        match self.kernel {
            MatmulKernel::Blas => (xs.linear(&dense.ws, Some(&dense.bs)), None),
            MatmulKernel::OneDnn if self.plain => (
                plain_onednn::linear_then(xs, &dense.ws, Some(&dense.bs), post_op),
                None,
            ),
            MatmulKernel::OneDnn => {
                let x = to_onednn(xs);
                let y = from_onednn(&x.mkldnn_linear(&dense.ws, Some(&dense.bs)));
                (y, Some(x))
            }
        }
    }
}

/// The layer's forward product on `xs`, `(m, k, n)`.
fn product_shape(dense: &Dense, xs: &Tensor) -> (i64, i64, i64) {
    let weight = dense.ws.size();
    (xs.size()[0], weight[1], weight[0])
}

fn shape_of(xs: &Tensor, slope: f64) -> Shape {
    let size = xs.size();
    Shape {
        rows: size[0] as usize,
        cols: size[1] as usize,
        slope: slope as f32,
    }
}

/// The address of a contiguous float CPU tensor's values.
fn buffer(xs: &Tensor) -> Buffer {
    assert!(
        xs.kind() == Kind::Float && xs.is_contiguous() && xs.device() == tch::Device::Cpu,
        "a chain's fused passes need contiguous float tensors on the CPU"
    );
    // SAFETY: a live contiguous f32 CPU tensor; the passes touch it only while the caller
    // holds it, and libtorch runs nothing else on it meanwhile.
    unsafe { Buffer::new(xs.data_ptr() as *mut f32) }
}

fn norm_buffers(norm: &ChainNorm) -> NormBuffers {
    NormBuffers {
        gamma: buffer(&norm.gamma),
        beta: buffer(&norm.beta),
        running_mean: buffer(&norm.running_mean),
        running_var: buffer(&norm.running_var),
        momentum: norm.momentum as f32,
        eps: norm.eps as f32,
    }
}

/// Activates `outputs` in place and normalises them when there is a BatchNorm; returns the
/// layer's output and, in training mode, the batch statistics.
fn activate_normalize(
    outputs: &Tensor,
    slope: f64,
    norm: Option<&ChainNorm>,
    train: bool,
) -> (Tensor, Option<(Tensor, Tensor)>) {
    let shape = shape_of(outputs, slope);
    let a = buffer(outputs);
    let Some(norm) = norm else {
        // SAFETY: `outputs` holds rows · cols values.
        unsafe { kernels::activate(a, shape) };
        return (outputs.shallow_clone(), None);
    };
    let normalized = outputs.empty_like();
    let y = buffer(&normalized);
    let norms = norm_buffers(norm);
    if !train {
        // SAFETY: sizes as the kernel asks: the BatchNorm has one value per column.
        unsafe { kernels::activate_normalize_eval(a, y, norms, shape) };
        return (normalized, None);
    }
    assert!(
        shape.rows >= 2,
        "BatchNorm in training mode needs a batch of at least 2"
    );
    let columns = || Tensor::empty([shape.cols as i64], (Kind::Float, tch::Device::Cpu));
    let (mean, invstd) = (columns(), columns());
    // SAFETY: as above; mean and invstd hold one value per column.
    unsafe {
        kernels::activate_normalize_train(a, y, norms, buffer(&mean), buffer(&invstd), shape)
    };
    (normalized, Some((mean, invstd)))
}

/// `grad ← ∂L/∂(the layer's dense output)` in place, from `∂L/∂(its final output)`; returns
/// the BatchNorm's parameter gradients when they are wanted.
fn activation_backward(
    layer: &ChainLayer,
    saved: &SavedLayer,
    grad: &Tensor,
    wanted: Wanted,
) -> Vec<(String, Tensor)> {
    let (Some(slope), Some(activated)) = (layer.slope, &saved.activated) else {
        return Vec::new();
    };
    let shape = shape_of(grad, slope);
    let (g, r) = (buffer(grad), buffer(activated));
    let (Some(norm), Some((mean, invstd))) = (&layer.norm, &saved.statistics) else {
        assert!(
            layer.norm.is_none(),
            "a chain's backward pass needs a forward pass in training mode"
        );
        // SAFETY: grad and activated both hold rows · cols values.
        unsafe { kernels::activation_backward(g, r, shape) };
        return Vec::new();
    };
    let columns = || Tensor::empty([shape.cols as i64], (Kind::Float, tch::Device::Cpu));
    let (dgamma, dbeta) = (columns(), columns());
    let gamma = &norm.gamma;
    // SAFETY: grad and activated hold rows · cols values, the rest one per column.
    unsafe {
        kernels::activate_normalize_backward(
            g,
            NormBackward {
                activated: r,
                mean: buffer(mean),
                invstd: buffer(invstd),
                gamma: buffer(gamma),
                dgamma: buffer(&dgamma),
                dbeta: buffer(&dbeta),
            },
            shape,
        )
    };
    match wanted {
        Wanted::Parameters => vec![
            (norm.weight_name.clone(), dgamma),
            (norm.bias_name.clone(), dbeta),
        ],
        Wanted::Input => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
