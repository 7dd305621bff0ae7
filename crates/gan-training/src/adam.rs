//! Adam (Kingma & Ba 2015), written here so that its state is ours to save and restore.
//!
//! The moments are tensors named after the parameters they follow, saved with checkpoints, so a
//! resumed run continues with exactly the optimizer state it stopped with.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Tensor};

use crate::adam_cpu;
use crate::error::TrainError;

/// Where epsilon enters the update; the two differ slightly early in training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EpsilonStyle {
    /// Keras/TensorFlow: `θ -= lr·√(1-β2ᵗ)/(1-β1ᵗ) · m / (√v + ε)`.
    Keras,
    /// PyTorch: `θ -= lr · m̂ / (√v̂ + ε)` with bias-corrected `m̂`, `v̂`.
    Pytorch,
}

/// Adam's hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub epsilon_style: EpsilonStyle,
}

impl AdamConfig {
    /// Keras' defaults: lr 1e-3, β1 0.9, β2 0.999, ε 1e-7.
    pub fn keras() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            epsilon_style: EpsilonStyle::Keras,
        }
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(TrainError::invalid(
                "lr",
                self.lr,
                "must be a positive number",
            ));
        }
        for (field, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(TrainError::invalid(field, beta, "must be in [0, 1)"));
            }
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(TrainError::invalid(
                "eps",
                self.eps,
                "must be a positive number",
            ));
        }
        Ok(())
    }
}

/// Adam over the trainable variables of one var store.
///
/// The parameters are moved into one flat buffer (each variable becomes a view of its slice),
/// so an update is eight whole-buffer operations instead of eight per parameter tensor: the
/// same arithmetic with a tenth of the dispatches and allocations.
#[derive(Debug)]
pub struct Adam {
    config: AdamConfig,
    /// Trainable parameters sorted by name, with their slice `(offset, length)` of the buffers.
    params: Vec<(String, Tensor, i64, i64)>,
    flat: Tensor,
    m: Tensor,
    v: Tensor,
    step: u64,
}

impl Adam {
    pub fn new(vs: &VarStore, config: AdamConfig) -> Self {
        let mut named: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let pieces: Vec<Tensor> = named
            .iter()
            .map(|(_, t)| t.detach().flatten(0, -1))
            .collect();
        let flat = if pieces.is_empty() {
            Tensor::zeros([0], (tch::Kind::Float, vs.device()))
        } else {
            Tensor::cat(&pieces, 0)
        };
        let mut params = Vec::with_capacity(named.len());
        let mut offset = 0;
        tch::no_grad(|| {
            for (name, mut t) in named {
                let len = t.numel() as i64;
                t.set_data(&flat.narrow(0, offset, len).view(t.size().as_slice()));
                params.push((name, t, offset, len));
                offset += len;
            }
        });
        Adam {
            config,
            params,
            m: flat.zeros_like(),
            v: flat.zeros_like(),
            flat,
            step: 0,
        }
    }

    /// The parameters this optimizer updates, in the order [`Adam::step`] expects gradients.
    pub fn parameters(&self) -> Vec<Tensor> {
        self.params.iter().map(|p| p.1.shallow_clone()).collect()
    }

    /// The parameters with their var-store names, in the same order.
    pub fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.params
            .iter()
            .map(|p| (p.0.clone(), p.1.shallow_clone()))
            .collect()
    }

    /// Each parameter's name with its `(offset, length)` in [`Adam::flat`].
    pub(crate) fn layout(&self) -> Vec<(String, i64, i64)> {
        self.params
            .iter()
            .map(|(name, _, offset, len)| (name.clone(), *offset, *len))
            .collect()
    }

    /// All parameters as one buffer (each parameter is a view of its slice).
    pub(crate) fn flat(&self) -> &Tensor {
        &self.flat
    }

    /// Sets the rate of the next updates (a schedule's; the moments are kept).
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// Number of updates applied so far.
    pub fn steps_taken(&self) -> u64 {
        self.step
    }

    /// Applies one update with `grads[i]` the gradient of `parameters()[i]`.
    pub fn step(&mut self, grads: &[Tensor]) {
        self.step_averaged(grads, None);
    }

    /// [`Adam::step`], then `average ← average + weight·(θ - average)` over the flat
    /// parameters (an EMA), in the same pass where the fused CPU update runs.
    pub(crate) fn step_averaged(&mut self, grads: &[Tensor], average: Option<(&Tensor, f64)>) {
        assert_eq!(grads.len(), self.params.len(), "one gradient per parameter");
        self.step += 1;
        let update = self.update_coefficients();
        if adam_cpu::applies_to(&[&self.flat, &self.m, &self.v])
            && average.is_none_or(|(buffer, _)| adam_cpu::applies_to(&[buffer]))
        {
            let slices: Vec<(i64, i64)> = self.params.iter().map(|p| (p.2, p.3)).collect();
            let average = average.map(|(buffer, weight)| adam_cpu::Average {
                buffer,
                weight: weight as f32,
            });
            adam_cpu::apply(
                &self.flat, &self.m, &self.v, grads, &slices, update, average,
            );
        } else {
            self.step_with_tensor_ops(grads, update);
            if let Some((buffer, weight)) = average {
                tch::no_grad(|| {
                    let _ = buffer.shallow_clone().lerp_(&self.flat, weight);
                });
            }
        }
    }

    /// Both epsilon styles as `θ ← θ - a·m / (c·√v + ε)`: Keras scales the step by
    /// `√(1-β2ᵗ)/(1-β1ᵗ)`, PyTorch bias-corrects `m` and `v` before adding ε.
    fn update_coefficients(&self) -> adam_cpu::Update {
        let AdamConfig {
            lr,
            beta1,
            beta2,
            eps,
            epsilon_style,
        } = self.config;
        let t = self.step as i32;
        let bias1 = 1.0 - beta1.powi(t);
        let bias2 = 1.0 - beta2.powi(t);
        let (a, c) = match epsilon_style {
            EpsilonStyle::Keras => (lr * bias2.sqrt() / bias1, 1.0),
            EpsilonStyle::Pytorch => (lr / bias1, 1.0 / bias2.sqrt()),
        };
        adam_cpu::Update {
            beta1: beta1 as f32,
            beta2: beta2 as f32,
            a: a as f32,
            c: c as f32,
            eps: eps as f32,
        }
    }

    /// The update for buffers off the CPU (CUDA, MPS): whole-buffer tensor ops.
    fn step_with_tensor_ops(&mut self, grads: &[Tensor], u: adam_cpu::Update) {
        tch::no_grad(|| {
            let pieces: Vec<Tensor> = grads.iter().map(|g| g.flatten(0, -1)).collect();
            let g = Tensor::cat(&pieces, 0);
            // m ← β1·m + (1-β1)·g ; v ← β2·v + (1-β2)·g²
            let _ = self.m.lerp_(&g, 1.0 - f64::from(u.beta1));
            let _ = self.v.lerp_(&g.square(), 1.0 - f64::from(u.beta2));
            // θ ← θ + m / d with d = -(c·√v + ε)/a
            let mut denom = self.v.sqrt();
            let _ = denom
                .g_mul_scalar_(f64::from(u.c))
                .g_add_scalar_(f64::from(u.eps))
                .g_mul_scalar_(-1.0 / f64::from(u.a));
            let _ = self.flat.addcdiv_(&self.m, &denom);
        });
    }

    /// The optimizer's state as named tensors (`prefix` + `m.`/`v.` + parameter name) and
    /// the step count.
    pub fn state(&self, prefix: &str) -> (Vec<(String, Tensor)>, u64) {
        let mut named = Vec::with_capacity(2 * self.params.len());
        for (name, param, offset, len) in &self.params {
            let shape = param.size();
            named.push((
                format!("{prefix}m.{name}"),
                self.m.narrow(0, *offset, *len).view(shape.as_slice()),
            ));
            named.push((
                format!("{prefix}v.{name}"),
                self.v.narrow(0, *offset, *len).view(shape.as_slice()),
            ));
        }
        (named, self.step)
    }

    /// Restores state written by [`Adam::state`]; `path` names the source in errors.
    pub fn load_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        prefix: &str,
        step: u64,
        path: &Path,
    ) -> Result<(), TrainError> {
        let mut copies = Vec::with_capacity(2 * self.params.len());
        for (name, param, offset, len) in &self.params {
            for (kind, buffer) in [("m", &self.m), ("v", &self.v)] {
                let key = format!("{prefix}{kind}.{name}");
                let src = tensors.get(&key).ok_or_else(|| TrainError::BadCheckpoint {
                    path: path.to_owned(),
                    why: format!("tensor {key} is missing"),
                })?;
                if src.size() != param.size() {
                    return Err(TrainError::BadCheckpoint {
                        path: path.to_owned(),
                        why: format!(
                            "tensor {key} has shape {:?}, expected {:?}",
                            src.size(),
                            param.size()
                        ),
                    });
                }
                copies.push((buffer.narrow(0, *offset, *len), src.flatten(0, -1)));
            }
        }
        tch::no_grad(|| -> Result<(), TrainError> {
            for (mut target, src) in copies {
                target.f_copy_(&src)?;
            }
            Ok(())
        })?;
        self.step = step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Device, Kind};

    fn one_param(value: f32) -> (VarStore, Tensor) {
        let vs = VarStore::new(Device::Cpu);
        let p = vs.root().var("w", &[1], nn::Init::Const(value as f64));
        (vs, p)
    }

    #[test]
    fn first_step_moves_each_weight_by_about_lr() {
        // With bias correction, Adam's first update is lr·g/(|g| + ε') ≈ lr·sign(g).
        for style in [EpsilonStyle::Keras, EpsilonStyle::Pytorch] {
            let (vs, p) = one_param(1.0);
            let mut adam = Adam::new(
                &vs,
                AdamConfig {
                    epsilon_style: style,
                    ..AdamConfig::keras()
                },
            );
            adam.step(&[Tensor::from_slice(&[0.5f32])]);
            let w = p.double_value(&[0]);
            assert!((w - (1.0 - 1e-3)).abs() < 1e-6, "{style:?}: {w}");
        }
    }

    #[test]
    fn matches_a_hand_computed_second_step() {
        let (vs, p) = one_param(0.0);
        let c = AdamConfig {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            epsilon_style: EpsilonStyle::Pytorch,
        };
        let mut adam = Adam::new(&vs, c);
        adam.step(&[Tensor::from_slice(&[1.0f32])]);
        adam.step(&[Tensor::from_slice(&[-2.0f32])]);
        // m = 0.9·0.1 + 0.1·(-2) = -0.11 ; v = 0.99·0.01 + 0.01·4 = 0.0499
        let m_hat = -0.11 / (1.0 - 0.81);
        let v_hat = 0.0499 / (1.0 - 0.9801);
        let expected = -0.1 - 0.1 * m_hat / (f64::sqrt(v_hat) + 1e-8);
        assert!((p.double_value(&[0]) - expected).abs() < 1e-6);
    }

    /// The fused pass, with an EMA folded in, equals the tensor-op update followed by
    /// `lerp_` (the path for buffers off the CPU).
    #[test]
    fn fused_cpu_update_equals_the_tensor_op_update() {
        let run = |fused: bool| {
            let vs = VarStore::new(Device::Cpu);
            let root = vs.root();
            let _a = root.var("a", &[5, 3], nn::Init::Const(0.5));
            let _b = root.var("b", &[7], nn::Init::Const(-1.0));
            let mut adam = Adam::new(&vs, AdamConfig::keras());
            let average = adam.flat.copy();
            for step in 0..3 {
                let grads: Vec<Tensor> = [15, 7]
                    .iter()
                    .map(|&n| Tensor::arange(n, tch::kind::FLOAT_CPU).sin() * (step + 1))
                    .collect();
                let weight = 0.1 * (step + 1) as f64;
                if fused {
                    adam.step_averaged(&grads, Some((&average, weight)));
                } else {
                    adam.step += 1;
                    let u = adam.update_coefficients();
                    adam.step_with_tensor_ops(&grads, u);
                    let _ = average.shallow_clone().lerp_(&adam.flat, weight);
                }
            }
            (adam.flat.copy(), adam.m.copy(), adam.v.copy(), average)
        };
        let (fused, ops) = (run(true), run(false));
        for (a, b) in [
            (&fused.0, &ops.0),
            (&fused.1, &ops.1),
            (&fused.2, &ops.2),
            (&fused.3, &ops.3),
        ] {
            assert!(a.allclose(b, 1e-6, 1e-6, false));
        }
    }

    #[test]
    fn minimises_a_quadratic() {
        let vs = VarStore::new(Device::Cpu);
        let x = vs.root().var("x", &[3], nn::Init::Const(5.0));
        let mut adam = Adam::new(
            &vs,
            AdamConfig {
                lr: 0.1,
                ..AdamConfig::keras()
            },
        );
        let target = Tensor::from_slice(&[1.0f32, -2.0, 3.0]);
        for _ in 0..500 {
            let loss = (&x - &target).square().sum(Kind::Float);
            let grads = Tensor::run_backward(&[loss], &adam.parameters(), false, false);
            adam.step(&grads);
        }
        assert!((&x - &target).abs().max().double_value(&[]) < 1e-2);
    }

    #[test]
    fn state_round_trips() {
        let (vs, _) = one_param(1.0);
        let mut a = Adam::new(&vs, AdamConfig::keras());
        a.step(&[Tensor::from_slice(&[0.3f32])]);
        let (named, step) = a.state("opt.");
        let map: HashMap<String, Tensor> = named.into_iter().map(|(k, t)| (k, t.copy())).collect();
        let (vs2, _) = one_param(1.0);
        let mut b = Adam::new(&vs2, AdamConfig::keras());
        b.load_state(&map, "opt.", step, Path::new("x")).unwrap();
        assert_eq!(b.steps_taken(), 1);
        assert!(b.m.equal(&a.m) && b.v.equal(&a.v));
        let missing = HashMap::new();
        assert!(b
            .load_state(&missing, "opt.", 1, Path::new("ck"))
            .unwrap_err()
            .to_string()
            .contains("opt.m.w"));
    }
}
