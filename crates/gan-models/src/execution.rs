//! How layers run, chosen by whoever drives the networks (the trainer) rather than by the
//! networks themselves: the kernel dense products multiply with, and whether networks that
//! are chains ([`crate::manual`]) may run forward and backward by hand. A network takes the
//! [`Execution`] in effect when it is built; gradient recording is [`crate::Tape::record`]'s.
//! A model file names neither, as candle's modules name no backend kernel.

use std::cell::Cell;

use tch::Device;

use crate::matmul::{MatmulChoice, MatmulKernel};

/// How layers built while it is in effect ([`Execution::run`]) will run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Execution {
    /// The kernel of dense layers; `None` follows [`MatmulChoice::Auto`]'s rule for the
    /// layer's device.
    pub kernel: Option<MatmulKernel>,
    /// Networks that are chains may be run by hand instead of through autograd.
    pub hand_run: bool,
}

thread_local! {
    static CURRENT: Cell<Execution> = const {
        Cell::new(Execution {
            kernel: None,
            hand_run: false,
        })
    };
    static CHAINS_BUILT: Cell<u64> = const { Cell::new(0) };
}

impl Execution {
    pub fn new(kernel: MatmulKernel, hand_run: bool) -> Self {
        Execution {
            kernel: Some(kernel),
            hand_run,
        }
    }

    /// The execution in effect on this thread.
    pub fn current() -> Execution {
        CURRENT.with(Cell::get)
    }

    /// Runs `f` with this execution in effect on this thread, then restores the one before
    /// (also when `f` panics).
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore(Execution);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.replace(self)));
        f()
    }

    /// The kernel a dense layer on `device` multiplies with.
    pub(crate) fn kernel_on(self, device: Device) -> MatmulKernel {
        self.kernel.unwrap_or_else(|| auto_kernel(device))
    }

    /// How many networks this thread has set up to run by hand so far: a trainer compares
    /// the count before and after building a model to know how its steps will run.
    pub fn chains_built() -> u64 {
        CHAINS_BUILT.with(Cell::get)
    }

    pub(crate) fn count_chain() {
        CHAINS_BUILT.with(|c| c.set(c.get() + 1));
    }
}

fn auto_kernel(device: Device) -> MatmulKernel {
    MatmulChoice::Auto
        .resolve(device)
        .unwrap_or(MatmulKernel::Blas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_restores_the_execution_before_it() {
        let outer = Execution::current();
        let inner = Execution::new(MatmulKernel::Blas, true);
        let seen = inner.run(|| {
            let nested = Execution::new(MatmulKernel::OneDnn, false).run(Execution::current);
            (Execution::current(), nested)
        });
        assert_eq!(seen.0, inner);
        assert_eq!(seen.1.kernel, Some(MatmulKernel::OneDnn));
        assert_eq!(Execution::current(), outer);
        let caught = std::panic::catch_unwind(|| inner.run(|| panic!("inside")));
        assert!(caught.is_err());
        assert_eq!(Execution::current(), outer);
    }
}
