//! Convolutional encoder and decoder: strided 4×4 convolutions halve the image per layer on
//! the way in, transposed ones double it on the way out (DCGAN's shapes, small).

use gan_data::DeviceRng;
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::{Decoder, Encoder, VaeShape};
use crate::conditioning::{append_labels, CLASSES};
use crate::config::{Activation, WeightInit};
use crate::conv::layer::{ConvLayer, STRIDE};
use crate::error::ModelError;
use crate::layers::{check_widths, dense, LayerInfo};
use crate::tape::Dense;

/// Channels after each strided convolution of the encoder; the decoder runs them in reverse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvVaeConfig {
    pub channels: Vec<i64>,
    pub activation: Activation,
}

impl ConvVaeConfig {
    pub(crate) fn validate(&self, field: &'static str, shape: VaeShape) -> Result<(), ModelError> {
        check_widths(field, &self.channels)?;
        self.activation.validate()?;
        let factor = 1i64 << self.channels.len().min(16);
        let [_, rows, cols] = shape.image_shape;
        if self.channels.len() > 16 || rows % factor != 0 || cols % factor != 0 {
            return Err(ModelError::InvalidConfig {
                field,
                value: format!("{:?}", self.channels),
                why: "each layer halves the image: rows and columns must divide by 2^layers",
            });
        }
        Ok(())
    }

    /// Output channels of the decoder's transposed convolutions: the encoder's in reverse,
    /// ending at the image's channels.
    fn decoder_outputs(&self, shape: VaeShape) -> Vec<i64> {
        let mut outputs: Vec<i64> = self.channels.iter().rev().skip(1).copied().collect();
        outputs.push(shape.image_shape[0]);
        outputs
    }

    /// Channels, rows and columns of the smallest feature map.
    pub(crate) fn bottleneck(&self, shape: VaeShape) -> [i64; 3] {
        let factor = 1i64 << self.channels.len();
        let [_, rows, cols] = shape.image_shape;
        [
            *self.channels.last().unwrap_or(&1),
            rows / factor,
            cols / factor,
        ]
    }
}

/// Strided convolutions → flatten → a dense layer to `2·latent_dim` (mean, log-variance).
#[derive(Debug)]
pub struct ConvEncoder {
    config: ConvVaeConfig,
    shape: VaeShape,
    convs: Vec<ConvLayer>,
    head: Dense,
}

impl ConvEncoder {
    pub fn new(p: &nn::Path, config: &ConvVaeConfig, shape: VaeShape, seed: u64) -> Self {
        let rng = DeviceRng::new(seed);
        let mut input = shape.image_shape[0];
        let mut convs = Vec::new();
        for (i, &channels) in config.channels.iter().enumerate() {
            convs.push(ConvLayer::new(
                p / format!("conv{}", i + 1),
                input,
                channels,
                false,
                &rng,
                i as u64,
            ));
            input = channels;
        }
        let features: i64 = config.bottleneck(shape).iter().product::<i64>()
            + if shape.conditional { CLASSES } else { 0 };
        let layer = config.channels.len() as u64;
        let head = dense(
            p / "fc",
            features,
            2 * shape.latent_dim,
            WeightInit::TorchDefault,
            &rng,
            layer,
        );
        ConvEncoder {
            config: config.clone(),
            shape,
            convs,
            head,
        }
    }
}

impl Encoder for ConvEncoder {
    fn forward(&self, images: &Tensor, labels: Option<&Tensor>) -> (Tensor, Tensor) {
        let mut xs = images.shallow_clone();
        for conv in &self.convs {
            xs = self.config.activation.apply(&conv.conv(&xs));
        }
        let xs = append_labels(
            &xs.flatten(1, -1),
            labels,
            self.shape.conditional,
            "conv encoder",
        );
        let out = self.head.forward(&xs);
        let halves = out.chunk(2, 1);
        (halves[0].shallow_clone(), halves[1].shallow_clone())
    }

    fn layers(&self) -> Vec<LayerInfo> {
        let [_, mut rows_, mut cols] = self.shape.image_shape;
        let mut rows = Vec::new();
        for (i, &channels) in self.config.channels.iter().enumerate() {
            rows_ /= STRIDE;
            cols /= STRIDE;
            rows.push(LayerInfo::new(
                format!("conv{}", i + 1),
                "Conv2D 4×4/2",
                &[channels, rows_, cols],
            ));
            rows.push(LayerInfo::new(
                format!("act{}", i + 1),
                self.config.activation.name(),
                &[channels, rows_, cols],
            ));
        }
        let flat: i64 = self.config.bottleneck(self.shape).iter().product();
        rows.push(LayerInfo::new("flatten", "Flatten", &[flat]));
        if self.shape.conditional {
            rows.push(LayerInfo::new(
                "labels",
                format!("Concatenate(one-hot {CLASSES})"),
                &[flat + CLASSES],
            ));
        }
        rows.push(LayerInfo::new("fc", "Dense", &[2 * self.shape.latent_dim]));
        rows.push(LayerInfo::new(
            "split",
            "Split(μ, log σ²)",
            &[2, self.shape.latent_dim],
        ));
        rows
    }
}

/// A dense layer to the smallest feature map → transposed convolutions → one logit per pixel.
#[derive(Debug)]
pub struct ConvDecoder {
    config: ConvVaeConfig,
    shape: VaeShape,
    head: Dense,
    convs: Vec<ConvLayer>,
}

impl ConvDecoder {
    pub fn new(p: &nn::Path, config: &ConvVaeConfig, shape: VaeShape, seed: u64) -> Self {
        let rng = DeviceRng::new(seed);
        let input = shape.latent_dim + if shape.conditional { CLASSES } else { 0 };
        let map: i64 = config.bottleneck(shape).iter().product();
        let head = dense(p / "fc", input, map, WeightInit::TorchDefault, &rng, 0);
        let outputs = config.decoder_outputs(shape);
        let mut from = *config.channels.last().unwrap_or(&1);
        let mut convs = Vec::new();
        for (i, &to) in outputs.iter().enumerate() {
            convs.push(ConvLayer::new(
                p / format!("deconv{}", i + 1),
                from,
                to,
                true,
                &rng,
                i as u64 + 1,
            ));
            from = to;
        }
        ConvDecoder {
            config: config.clone(),
            shape,
            head,
            convs,
        }
    }
}

impl Decoder for ConvDecoder {
    fn forward(&self, z: &Tensor, labels: Option<&Tensor>) -> Tensor {
        let xs = append_labels(z, labels, self.shape.conditional, "conv decoder");
        let [c, h, w] = self.config.bottleneck(self.shape);
        let mut xs = self
            .config
            .activation
            .apply(&self.head.forward(&xs))
            .view([-1, c, h, w]);
        let last = self.convs.len() - 1;
        for (i, conv) in self.convs.iter().enumerate() {
            xs = conv.conv_transpose(&xs);
            if i < last {
                xs = self.config.activation.apply(&xs);
            }
        }
        xs
    }

    fn layers(&self) -> Vec<LayerInfo> {
        let mut rows = Vec::new();
        let input = self.shape.latent_dim + if self.shape.conditional { CLASSES } else { 0 };
        if self.shape.conditional {
            rows.push(LayerInfo::new(
                "labels",
                format!("Concatenate(one-hot {CLASSES})"),
                &[input],
            ));
        }
        let [mut c, mut h, mut w] = self.config.bottleneck(self.shape);
        rows.push(LayerInfo::new("fc", "Dense", &[c * h * w]));
        rows.push(LayerInfo::new(
            "act0",
            self.config.activation.name(),
            &[c * h * w],
        ));
        rows.push(LayerInfo::new("reshape", "Reshape", &[c, h, w]));
        let outputs = self.config.decoder_outputs(self.shape);
        let last = outputs.len();
        for (i, &to) in outputs.iter().enumerate() {
            (c, h, w) = (to, h * STRIDE, w * STRIDE);
            rows.push(LayerInfo::new(
                format!("deconv{}", i + 1),
                "Conv2DTranspose 4×4/2",
                &[c, h, w],
            ));
            if i + 1 < last {
                rows.push(LayerInfo::new(
                    format!("act{}", i + 1),
                    self.config.activation.name(),
                    &[c, h, w],
                ));
            }
        }
        rows
    }
}
