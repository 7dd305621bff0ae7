//! MLP networks as chains: which tensors of a var store form each layer. The networks in
//! [`crate::mlp`] are built with these names; the chain reads them back, so the networks
//! themselves carry nothing of how they are run.

use tch::{nn, Device, Tensor};

use super::{Chain, ChainLayer, ChainNorm};
use crate::architecture::{DiscriminatorConfig, GeneratorConfig};
use crate::config::{Norm, OutputActivation};
use crate::execution::Execution;
use crate::tape::Dense;

impl Chain {
    /// The generator `config` built under `p` as a chain, where the execution in effect lets
    /// networks run by hand and the network is one: an unconditional MLP with a (leaky)
    /// ReLU, on the CPU.
    pub fn of_generator(config: &GeneratorConfig, p: &nn::Path) -> Option<Chain> {
        let GeneratorConfig::Mlp(c) = config else {
            return None;
        };
        if !may_run_by_hand(c.runs_as_chain(), p) {
            return None;
        }
        let slope = c.activation.slope()?;
        let mut layers = Vec::with_capacity(c.hidden.len() + 1);
        for i in 1..=c.hidden.len() {
            let norm = match c.norm {
                Norm::None => None,
                Norm::BatchNorm { momentum, eps } => {
                    Some(norm(&(p / format!("bn{i}")), momentum, eps)?)
                }
            };
            layers.push(ChainLayer {
                dense: dense(&(p / format!("fc{i}")))?,
                slope: Some(slope),
                norm,
            });
        }
        layers.push(ChainLayer {
            dense: dense(&(p / format!("fc{}", c.hidden.len() + 1)))?,
            slope: None,
            norm: None,
        });
        Some(Chain::new(layers, Some(c.output)))
    }

    /// The discriminator `config` built under `p` as a chain, under the same conditions as
    /// [`Chain::of_generator`].
    pub fn of_discriminator(config: &DiscriminatorConfig, p: &nn::Path) -> Option<Chain> {
        let DiscriminatorConfig::Mlp(c) = config else {
            return None;
        };
        if !may_run_by_hand(c.runs_as_chain(), p) {
            return None;
        }
        let slope = c.activation.slope()?;
        let layers = (1..=c.hidden.len() + 1)
            .map(|i| {
                Some(ChainLayer {
                    dense: dense(&(p / format!("fc{i}")))?,
                    slope: (i <= c.hidden.len()).then_some(slope),
                    norm: None,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Chain::new(layers, None::<OutputActivation>))
    }
}

/// Whether a network that is a chain may run by hand under `p`.
fn may_run_by_hand(is_chain: bool, p: &nn::Path) -> bool {
    is_chain && Execution::current().hand_run && p.device() == Device::Cpu
}

fn dense(p: &nn::Path) -> Option<Dense> {
    Some(Dense::new(
        p.get("weight")?,
        p.get("bias")?,
        p.path("weight"),
        p.path("bias"),
    ))
}

fn norm(p: &nn::Path, momentum: f64, eps: f64) -> Option<ChainNorm> {
    let get = |name: &str| -> Option<Tensor> { p.get(name) };
    Some(ChainNorm {
        gamma: get("weight")?,
        beta: get("bias")?,
        running_mean: get("running_mean")?,
        running_var: get("running_var")?,
        momentum,
        eps,
        weight_name: p.path("weight"),
        bias_name: p.path("bias"),
    })
}
