//! Class conditioning: how a digit label enters a network.
//!
//! A conditional generator sees its label as a one-hot vector beside the noise, which makes
//! the first layer add a learned per-class vector to its pre-activations. A conditional
//! discriminator either sees the one-hot beside the image in the same way (`concat`), or
//! scores how well its last hidden features agree with a learned per-class vector and adds
//! that to its logit (`projection`, Miyato & Koyama 2018).

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Classes a conditional network tells apart: MNIST's ten digits.
pub const CLASSES: i64 = gan_data::MNIST_CLASSES as i64;

/// How a conditional discriminator takes its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelInput {
    /// A one-hot vector beside the flattened image.
    #[default]
    Concat,
    /// `logit = head(h) + ⟨embed(y), h⟩` on the last hidden features `h`.
    Projection,
}

impl LabelInput {
    pub(crate) fn is_concat(&self) -> bool {
        *self == LabelInput::Concat
    }
}

/// `labels` `(N,)` of integers in `0..CLASSES` as `(N, CLASSES)` rows of `kind`. Labels that
/// already are `(N, CLASSES)` rows of class weights (a blend of two digits, for a walk from
/// one to the other) pass through as they are.
pub fn one_hot(labels: &Tensor, kind: Kind) -> Tensor {
    if labels.dim() == 2 {
        return labels.to_kind(kind);
    }
    labels.to_kind(Kind::Int64).one_hot(CLASSES).to_kind(kind)
}

/// `xs` `(N, F)` with the one-hot of `labels` appended for a conditional network, `xs` itself
/// for an unconditional one. A mismatch between the network and the call is a programming
/// error of the caller (families check conditioning before they build batches).
pub(crate) fn append_labels(
    xs: &Tensor,
    labels: Option<&Tensor>,
    conditional: bool,
    network: &str,
) -> Tensor {
    match (conditional, labels) {
        (true, Some(labels)) => Tensor::cat(&[xs, &one_hot(labels, xs.kind())], 1),
        (false, None) => xs.shallow_clone(),
        (true, None) => panic!("the conditional {network} needs labels"),
        (false, Some(_)) => panic!("the {network} is not conditional"),
    }
}

/// Labels for `count` samples in which every class appears equally often (up to one): sample
/// `i` gets class `(offset + i) mod CLASSES`. Rotating `offset` across batches keeps the
/// remainder balanced too.
pub fn balanced_labels(count: i64, offset: i64, device: tch::Device) -> Tensor {
    (Tensor::arange(count, (Kind::Int64, device)) + offset).remainder(CLASSES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn balanced_labels_are_balanced() {
        let labels = balanced_labels(1003, 7, Device::Cpu);
        let counts = Vec::<i64>::try_from(labels.bincount(None::<Tensor>, CLASSES)).unwrap();
        assert!(counts.iter().all(|&c| c == 100 || c == 101), "{counts:?}");
        assert_eq!(counts.iter().sum::<i64>(), 1003);
        assert_eq!(labels.int64_value(&[0]), 7);
        assert_eq!(labels.int64_value(&[3]), 0);
    }

    #[test]
    fn one_hot_rows_mark_their_class() {
        let labels = Tensor::from_slice(&[3i64, 0, 9]);
        let rows = one_hot(&labels, Kind::Float);
        assert_eq!(rows.size(), vec![3, CLASSES]);
        let blend = Tensor::from_slice(&[0.25f32, 0.75])
            .pad([0, 8], "constant", None)
            .view([1, CLASSES]);
        assert_eq!(
            Vec::<f32>::try_from(one_hot(&blend, Kind::Float).view([-1])).unwrap()[..3],
            [0.25, 0.75, 0.0]
        );
        assert_eq!(rows.sum(Kind::Float).double_value(&[]), 3.0);
        assert_eq!(rows.double_value(&[0, 3]), 1.0);
        assert_eq!(rows.double_value(&[2, 9]), 1.0);
    }

    #[test]
    #[should_panic(expected = "needs labels")]
    fn a_conditional_network_without_labels_is_a_bug() {
        let _ = append_labels(
            &Tensor::zeros([2, 4], tch::kind::FLOAT_CPU),
            None,
            true,
            "x",
        );
    }
}
