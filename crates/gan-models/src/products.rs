//! A step's matrix products, recorded as its layers run them ([`record_products`]), for
//! `matmul = auto` ([`crate::matmul_tuning`]) and the bench's speed ceilings, so that no
//! model writes its products down. A chain ([`crate::manual`]) records each product it
//! runs. A layer run through autograd records its forward product as it runs, and the
//! backward products autograd will run for it when the next [`crate::Tape::gradients`]
//! asks: an input gradient where its input needs one, a weight gradient where that call
//! asks for its weight. (A gradient penalty's double backward counts as one backward pass.)

use std::cell::RefCell;

use tch::Tensor;

use crate::matmul_tuning::{ProductRole, StepProduct};

/// What [`record_products`] saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedProducts {
    /// Each distinct product (shape and role) in the order first run, with how often it ran.
    pub products: Vec<StepProduct>,
    /// Some product ran in a chain, by hand.
    pub by_hand: bool,
}

impl RecordedProducts {
    fn add(&mut self, shape: (i64, i64, i64), role: ProductRole) {
        match self
            .products
            .iter_mut()
            .find(|p| p.shape == shape && p.role == role)
        {
            Some(product) => product.count += 1,
            None => self.products.push(StepProduct::new(shape, 1, role)),
        }
    }

    /// The products of one step when these were recorded over `steps` steps: each count
    /// divided by `steps`, rounded up.
    pub fn per_step(mut self, steps: u32) -> RecordedProducts {
        for product in &mut self.products {
            product.count = product.count.div_ceil(steps.max(1));
        }
        self
    }
}

/// A product run through autograd whose backward products wait for the gradients taken.
#[derive(Debug)]
struct Pending {
    shape: (i64, i64, i64),
    /// The weight tensor's address: names repeat across var stores, storage does not.
    weight: usize,
    input_gradient: bool,
}

#[derive(Debug, Default)]
struct Recording {
    seen: RecordedProducts,
    pending: Vec<Pending>,
}

thread_local! {
    static RECORDING: RefCell<Option<Recording>> = const { RefCell::new(None) };
}

/// Runs `f` (training steps) and returns its result with the products its layers ran on
/// this thread.
pub fn record_products<R>(f: impl FnOnce() -> R) -> (R, RecordedProducts) {
    struct Stop;
    impl Drop for Stop {
        fn drop(&mut self) {
            RECORDING.with(|r| r.borrow_mut().take());
        }
    }
    RECORDING.with(|r| *r.borrow_mut() = Some(Recording::default()));
    let stop = Stop;
    let result = f();
    let seen = RECORDING
        .with(|r| r.borrow_mut().take())
        .map(|recording| recording.seen)
        .unwrap_or_default();
    drop(stop);
    (result, seen)
}

/// Whether products are being recorded on this thread: callers skip working out shapes when
/// they are not.
pub(crate) fn recording() -> bool {
    RECORDING.with(|r| r.borrow().is_some())
}

fn with_recording(f: impl FnOnce(&mut Recording)) {
    RECORDING.with(|r| {
        if let Some(recording) = r.borrow_mut().as_mut() {
            f(recording);
        }
    });
}

/// A chain ran an `m × k` by `k × n` product doing `role`.
pub(crate) fn ran_by_hand(shape: (i64, i64, i64), role: ProductRole) {
    with_recording(|r| {
        r.seen.add(shape, role);
        r.seen.by_hand = true;
    });
}

/// A layer ran its forward product `(m × k)·(k × n)` with `weight` (the parameter, as the
/// var store holds it), producing `output`: autograd's backward products follow when
/// gradients are taken, if the output is part of a graph.
pub(crate) fn ran_through_autograd(
    shape: (i64, i64, i64),
    weight: &Tensor,
    input: &Tensor,
    output: &Tensor,
) {
    with_recording(|r| {
        r.seen.add(shape, ProductRole::Forward);
        if output.requires_grad() {
            r.pending.push(Pending {
                shape,
                weight: weight.data_ptr() as usize,
                input_gradient: input.requires_grad(),
            });
        }
    });
}

/// Gradients were taken for the parameters `wanted`: the waiting layers' backward products
/// ran.
pub(crate) fn gradients_taken<'a>(wanted: impl Iterator<Item = &'a Tensor>) {
    with_recording(|r| {
        let wanted: Vec<usize> = wanted.map(|t| t.data_ptr() as usize).collect();
        for pending in std::mem::take(&mut r.pending) {
            let (m, k, n) = pending.shape;
            if wanted.contains(&pending.weight) {
                r.seen.add((n, m, k), ProductRole::WeightGradient);
            }
            if pending.input_gradient {
                r.seen.add((m, n, k), ProductRole::InputGradient);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::kind;

    #[test]
    fn autograd_products_wait_for_the_gradients_asked() {
        let input = Tensor::zeros([8, 3], kind::FLOAT_CPU);
        let hidden = Tensor::zeros([8, 5], kind::FLOAT_CPU).set_requires_grad(true);
        let (a, b) = (
            Tensor::zeros([5, 3], kind::FLOAT_CPU),
            Tensor::zeros([2, 5], kind::FLOAT_CPU),
        );
        let ((), seen) = record_products(|| {
            ran_through_autograd((8, 3, 5), &a, &input, &hidden);
            ran_through_autograd((8, 5, 2), &b, &hidden, &hidden);
            gradients_taken([&b].into_iter());
            ran_by_hand((8, 3, 5), ProductRole::Forward);
        });
        use ProductRole::*;
        let expected = [
            ((8, 3, 5), 2, Forward),
            ((8, 5, 2), 1, Forward),
            ((2, 8, 5), 1, WeightGradient),
            ((8, 2, 5), 1, InputGradient),
        ];
        let got: Vec<_> = seen
            .products
            .iter()
            .map(|p| (p.shape, p.count, p.role))
            .collect();
        assert_eq!(got, expected);
        assert!(seen.by_hand);
        assert_eq!(seen.clone().per_step(2).products[0].count, 1);
        // Nothing is recorded outside.
        ran_by_hand((1, 1, 1), Forward);
        assert_eq!(record_products(|| ()).1, RecordedProducts::default());
    }
}
