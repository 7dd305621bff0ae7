//! Multilayer-perceptron encoder and decoder (the architecture of Kingma & Welling and of
//! Burda et al.'s one-stochastic-layer models).

use gan_data::DeviceRng;
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::{Decoder, Encoder, VaeShape};
use crate::conditioning::{append_labels, CLASSES};
use crate::config::{Activation, WeightInit};
use crate::error::ModelError;
use crate::layers::{check_widths, dense, LayerInfo};
use crate::tape::Dense;

/// Hidden widths (from the input side: image for the encoder, latent for the decoder) and
/// their nonlinearity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpVaeConfig {
    pub hidden: Vec<i64>,
    pub activation: Activation,
}

impl MlpVaeConfig {
    pub(crate) fn validate(&self, field: &'static str) -> Result<(), ModelError> {
        check_widths(field, &self.hidden)?;
        self.activation.validate()
    }
}

/// A stack of dense layers with one nonlinearity between them (none after the last).
#[derive(Debug)]
struct DenseStack {
    layers: Vec<Dense>,
    activation: Activation,
}

impl DenseStack {
    /// Layers `fc1`, `fc2`, … under `p`, with PyTorch's default initialisation.
    fn new(p: &nn::Path, widths: &[i64], config: &MlpVaeConfig, seed: u64) -> Self {
        let rng = DeviceRng::new(seed);
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let name = format!("fc{}", i + 1);
                dense(
                    p / name,
                    w[0],
                    w[1],
                    WeightInit::TorchDefault,
                    &rng,
                    i as u64,
                )
            })
            .collect();
        DenseStack {
            layers,
            activation: config.activation,
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        let last = self.layers.len() - 1;
        let mut xs = xs.shallow_clone();
        for (i, layer) in self.layers.iter().enumerate() {
            xs = layer.forward(&xs);
            if i < last {
                xs = self.activation.apply(&xs);
            }
        }
        xs
    }
}

/// Rows of a summary for dense layers of `widths[1..]` with `activation` between them.
fn dense_rows(widths: &[i64], activation: Activation) -> Vec<LayerInfo> {
    let mut rows = Vec::new();
    for (i, &width) in widths[1..].iter().enumerate() {
        rows.push(LayerInfo::new(format!("fc{}", i + 1), "Dense", &[width]));
        if i + 2 < widths.len() {
            rows.push(LayerInfo::new(
                format!("act{}", i + 1),
                activation.name(),
                &[width],
            ));
        }
    }
    rows
}

fn label_row(shape: VaeShape, width: i64) -> Option<LayerInfo> {
    shape.conditional.then(|| {
        LayerInfo::new(
            "labels",
            format!("Concatenate(one-hot {CLASSES})"),
            &[width],
        )
    })
}

/// Flattened image → hidden layers → `2·latent_dim` (mean, then log-variance).
#[derive(Debug)]
pub struct MlpEncoder {
    config: MlpVaeConfig,
    shape: VaeShape,
    stack: DenseStack,
}

impl MlpEncoder {
    pub fn new(p: &nn::Path, config: &MlpVaeConfig, shape: VaeShape, seed: u64) -> Self {
        MlpEncoder {
            config: config.clone(),
            shape,
            stack: DenseStack::new(p, &Self::widths(config, shape), config, seed),
        }
    }

    fn widths(config: &MlpVaeConfig, shape: VaeShape) -> Vec<i64> {
        let input = shape.image_len() + if shape.conditional { CLASSES } else { 0 };
        let mut widths = vec![input];
        widths.extend_from_slice(&config.hidden);
        widths.push(2 * shape.latent_dim);
        widths
    }
}

impl Encoder for MlpEncoder {
    fn forward(&self, images: &Tensor, labels: Option<&Tensor>) -> (Tensor, Tensor) {
        let flat = images.flatten(1, -1);
        let xs = append_labels(&flat, labels, self.shape.conditional, "MLP encoder");
        let out = self.stack.forward(&xs);
        let halves = out.chunk(2, 1);
        (halves[0].shallow_clone(), halves[1].shallow_clone())
    }

    fn layers(&self) -> Vec<LayerInfo> {
        let widths = Self::widths(&self.config, self.shape);
        let mut rows = vec![LayerInfo::new(
            "flatten",
            "Flatten",
            &[self.shape.image_len()],
        )];
        rows.extend(label_row(self.shape, widths[0]));
        rows.extend(dense_rows(&widths, self.config.activation));
        rows.push(LayerInfo::new(
            "split",
            "Split(μ, log σ²)",
            &[2, self.shape.latent_dim],
        ));
        rows
    }
}

/// Latent vector → hidden layers → one logit per pixel.
#[derive(Debug)]
pub struct MlpDecoder {
    config: MlpVaeConfig,
    shape: VaeShape,
    stack: DenseStack,
}

impl MlpDecoder {
    pub fn new(p: &nn::Path, config: &MlpVaeConfig, shape: VaeShape, seed: u64) -> Self {
        MlpDecoder {
            config: config.clone(),
            shape,
            stack: DenseStack::new(p, &Self::widths(config, shape), config, seed),
        }
    }

    fn widths(config: &MlpVaeConfig, shape: VaeShape) -> Vec<i64> {
        let input = shape.latent_dim + if shape.conditional { CLASSES } else { 0 };
        let mut widths = vec![input];
        widths.extend_from_slice(&config.hidden);
        widths.push(shape.image_len());
        widths
    }
}

impl Decoder for MlpDecoder {
    fn forward(&self, z: &Tensor, labels: Option<&Tensor>) -> Tensor {
        let xs = append_labels(z, labels, self.shape.conditional, "MLP decoder");
        let [c, h, w] = self.shape.image_shape;
        self.stack.forward(&xs).view([-1, c, h, w])
    }

    fn layers(&self) -> Vec<LayerInfo> {
        let widths = Self::widths(&self.config, self.shape);
        let mut rows: Vec<LayerInfo> = label_row(self.shape, widths[0]).into_iter().collect();
        rows.extend(dense_rows(&widths, self.config.activation));
        rows.push(LayerInfo::new(
            "reshape",
            "Reshape (logits)",
            &self.shape.image_shape,
        ));
        rows
    }
}
