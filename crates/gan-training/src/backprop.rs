//! How a run's networks execute, chosen by the run's config rather than by its model:
//! [`Backprop`] says whether networks that are chains run forward and backward by hand; with
//! the kernel of the dense layers it becomes the [`gan_models::Execution`] the trainer builds
//! the family under.

use gan_models::MatmulKernel;
use serde::{Deserialize, Serialize};

/// How a run forms its gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backprop {
    /// Networks that are chains ([`gan_models::manual`]: unconditional MLPs on the CPU) run
    /// forward and backward by hand, with one fused pass per layer between the products;
    /// everything else through autograd. The same gradients up to rounding, in less time.
    #[default]
    Fused,
    /// Everything through autograd: the reference the fused passes are tested against.
    Autograd,
}

impl Backprop {
    pub fn name(self) -> &'static str {
        match self {
            Backprop::Fused => "fused",
            Backprop::Autograd => "autograd",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fused" => Some(Backprop::Fused),
            "autograd" => Some(Backprop::Autograd),
            _ => None,
        }
    }

    /// What configs written before this setting existed trained with.
    pub(crate) fn before_fused() -> Self {
        Backprop::Autograd
    }

    /// The execution of networks built for a run that multiplies with `kernel`.
    pub fn execution(self, kernel: MatmulKernel) -> gan_models::Execution {
        gan_models::Execution::new(kernel, self == Backprop::Fused)
    }
}
