//! A residual MLP on the flattened image: the CPU's denoiser. Pre-normalised blocks
//! `h + W·SiLU(LN(h))` keep the signal's scale through depth, and the noise level enters
//! either once, added to the first hidden layer, or in every block as a FiLM scale and shift
//! of the normalised activations (Perez et al. 2018), drawn from a small time embedding so
//! it costs little beside the blocks' products.

use gan_data::DeviceRng;
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use super::time::sinusoidal_features;
use super::{Denoiser, DenoiserShape, NO_LABEL};
use crate::config::WeightInit;
use crate::error::ModelError;
use crate::layers::{dense, LayerInfo};
use crate::tape::Dense;

/// How the noise level enters the blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeInput {
    /// Projected to the width and added to the first hidden layer.
    Add,
    /// A scale and shift of every block's normalised input.
    Film,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpDenoiserConfig {
    /// Width of the hidden layers.
    pub width: i64,
    /// Residual blocks, one dense layer each.
    pub blocks: usize,
    /// Sinusoidal features of the noise level, and the width of the time embedding.
    pub time_features: i64,
    pub time_input: TimeInput,
}

impl MlpDenoiserConfig {
    pub(crate) fn validate(&self) -> Result<(), ModelError> {
        let invalid = |field: &'static str, value: String, why: &'static str| {
            Err(ModelError::InvalidConfig { field, value, why })
        };
        if !(1..=65_536).contains(&self.width) {
            return invalid(
                "denoiser.width",
                self.width.to_string(),
                "must be in 1..=65536",
            );
        }
        if !(1..=64).contains(&self.blocks) {
            return invalid(
                "denoiser.blocks",
                self.blocks.to_string(),
                "must be in 1..=64",
            );
        }
        if !(2..=4_096).contains(&self.time_features) || self.time_features % 2 != 0 {
            return invalid(
                "denoiser.time_features",
                self.time_features.to_string(),
                "must be even and in 2..=4096 (sines and cosines in pairs)",
            );
        }
        Ok(())
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct MlpDenoiser {
    config: MlpDenoiserConfig,
    shape: DenoiserShape,
    time: Dense,
    /// One row per class and one for "no label", added to the time embedding.
    label_table: Option<Tensor>,
    time_to_width: Option<Dense>,
    input: Dense,
    blocks: Vec<Dense>,
    films: Vec<Dense>,
    output: Dense,
}

impl MlpDenoiser {
    pub fn new(p: &nn::Path, config: &MlpDenoiserConfig, shape: DenoiserShape, seed: u64) -> Self {
        let rng = DeviceRng::new(seed);
        let (width, features) = (config.width, config.time_features);
        let blocks = config.blocks as u64;
        let layer = |name: String, fan_in, fan_out, index| {
            dense(
                p / name,
                fan_in,
                fan_out,
                WeightInit::TorchDefault,
                &rng,
                index,
            )
        };
        let time = layer("time".into(), features, features, 0);
        let time_to_width = (config.time_input == TimeInput::Add)
            .then(|| layer("time_to_width".into(), features, width, 1));
        let input = layer("input".into(), shape.image_len(), width, 2);
        let block_layers = (0..blocks)
            .map(|i| layer(format!("block{}", i + 1), width, width, 3 + i))
            .collect();
        let films = match config.time_input {
            TimeInput::Film => (0..blocks)
                .map(|i| {
                    layer(
                        format!("film{}", i + 1),
                        features,
                        2 * width,
                        3 + blocks + i,
                    )
                })
                .collect(),
            TimeInput::Add => Vec::new(),
        };
        let output = layer("output".into(), width, shape.image_len(), 3 + 2 * blocks);
        let label_table = shape.conditional.then(|| {
            let draw = rng
                .normal(u64::MAX, &[NO_LABEL + 1, features], p.device())
                .expect("normal draw on the var store's device");
            p.var_copy("label_table", &draw)
        });
        MlpDenoiser {
            config: config.clone(),
            shape,
            time,
            label_table,
            time_to_width,
            input,
            blocks: block_layers,
            films,
            output,
        }
    }

    fn normalized(&self, xs: &Tensor) -> Tensor {
        xs.layer_norm(
            [self.config.width],
            None::<Tensor>,
            None::<Tensor>,
            1e-5,
            false,
        )
    }

    /// SiLU of the time features' projection, plus the label's row when conditional.
    // `x += y` on a tensor adds in place, which autograd refuses for a tensor it saved.
    #[allow(clippy::assign_op_pattern)]
    fn time_embedding(&self, t: &Tensor, labels: Option<&Tensor>) -> Tensor {
        let features = sinusoidal_features(t, self.config.time_features);
        let mut embedding = self.time.forward(&features);
        if let Some(table) = &self.label_table {
            let labels = labels.expect("a conditional MLP denoiser takes labels");
            embedding = embedding + label_rows(table, labels);
        }
        embedding.silu()
    }
}

/// The table's rows for `labels`: classes `(N,)`, or weights over the first columns' classes
/// `(N, K)` (a walk between digits mixes their rows).
fn label_rows(table: &Tensor, labels: &Tensor) -> Tensor {
    if labels.dim() == 2 {
        let classes = labels.size()[1];
        labels
            .to_kind(Kind::Float)
            .matmul(&table.narrow(0, 0, classes))
    } else {
        table.index_select(0, &labels.to_kind(Kind::Int64))
    }
}

impl Denoiser for MlpDenoiser {
    // `h += y` would add in place into a tensor the layer norms saved for backward.
    #[allow(clippy::assign_op_pattern)]
    fn forward(&self, images: &Tensor, t: &Tensor, labels: Option<&Tensor>) -> Tensor {
        let embedding = self.time_embedding(t, labels);
        let mut h = self.input.forward(&images.flatten(1, -1));
        if let Some(project) = &self.time_to_width {
            h = h + project.forward(&embedding);
        }
        for (i, block) in self.blocks.iter().enumerate() {
            let mut a = self.normalized(&h);
            if let Some(film) = self.films.get(i) {
                let scale_shift = film.forward(&embedding).chunk(2, 1);
                a = a * (scale_shift[0].shallow_clone() + 1.0) + &scale_shift[1];
            }
            h = h + block.forward(&a.silu());
        }
        let [c, height, width] = self.shape.image_shape;
        self.output
            .forward(&self.normalized(&h).silu())
            .view([-1, c, height, width])
    }

    fn layers(&self) -> Vec<LayerInfo> {
        let (width, features) = (self.config.width, self.config.time_features);
        let mut rows = vec![
            LayerInfo::new("time_features", "Sinusoidal", &[features]),
            LayerInfo::new("time", "Dense", &[features]),
        ];
        if self.label_table.is_some() {
            rows.push(LayerInfo::new(
                "label_table",
                format!("Embedding({} + none)", crate::CLASSES),
                &[features],
            ));
        }
        rows.push(LayerInfo::new("time_act", "SiLU", &[features]));
        rows.push(LayerInfo::new("input", "Dense", &[width]));
        if self.time_to_width.is_some() {
            rows.push(LayerInfo::new("time_to_width", "Dense", &[width]));
        }
        for i in 1..=self.blocks.len() {
            if !self.films.is_empty() {
                rows.push(LayerInfo::new(format!("film{i}"), "FiLM", &[2 * width]));
            }
            rows.push(LayerInfo::new(format!("block{i}"), "Residual", &[width]));
        }
        rows.push(LayerInfo::new("output", "Dense", &self.shape.image_shape));
        rows
    }
}
