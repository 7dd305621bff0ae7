//! The MNIST classifier whose features the metrics use: a LeNet-5-style CNN.
//!
//! conv 5×5 (16) → ReLU → max-pool → conv 5×5 (32) → ReLU → max-pool → 120 → ReLU → 84 → ReLU
//! → 10. The 84 activations before the last layer are the feature space of the Fréchet
//! distance and of precision/recall.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use tch::nn::{self, Module, ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

use crate::error::EvalError;

/// Width of the feature space.
pub const FEATURES: i64 = 84;

/// The committed weights (`gan eval train-classifier` writes them).
static WEIGHTS: &[u8] = include_bytes!("../../../assets/mnist-lenet.safetensors");
/// Their SHA-256, checked at every load.
pub const WEIGHTS_SHA256: &str = "e6a7eba069964f687c23a657aa164743daf4faa5e261eb69db76ff6c72b7ca7b";

/// LeNet-style network; see the module docs.
#[derive(Debug)]
pub struct Classifier {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
    fc1: nn::Linear,
    fc2: nn::Linear,
    fc3: nn::Linear,
}

impl Classifier {
    /// A freshly initialised network under `p` (libtorch's default initialisation).
    pub fn new(p: &nn::Path) -> Classifier {
        let pad2 = nn::ConvConfig {
            padding: 2,
            ..Default::default()
        };
        Classifier {
            conv1: nn::conv2d(p / "conv1", 1, 16, 5, pad2),
            conv2: nn::conv2d(p / "conv2", 16, 32, 5, Default::default()),
            fc1: nn::linear(p / "fc1", 32 * 5 * 5, 120, Default::default()),
            fc2: nn::linear(p / "fc2", 120, FEATURES, Default::default()),
            fc3: nn::linear(p / "fc3", FEATURES, 10, Default::default()),
        }
    }

    /// The committed, checksummed weights on `device`.
    pub fn pretrained(device: Device) -> Result<(Classifier, VarStore), EvalError> {
        Self::from_bytes(WEIGHTS, WEIGHTS_SHA256, device)
    }

    /// Weights from safetensors `bytes` whose SHA-256 must be `sha256`.
    pub fn from_bytes(
        bytes: &[u8],
        sha256: &str,
        device: Device,
    ) -> Result<(Classifier, VarStore), EvalError> {
        let found: String = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if found != sha256 {
            return Err(EvalError::Weights {
                what: "assets/mnist-lenet.safetensors".into(),
                why: format!("SHA-256 is {found}, expected {sha256}; run `gan eval train-classifier` and update WEIGHTS_SHA256"),
            });
        }
        let file =
            safetensors::SafeTensors::deserialize(bytes).map_err(|e| EvalError::Weights {
                what: "assets/mnist-lenet.safetensors".into(),
                why: e.to_string(),
            })?;
        let mut tensors = HashMap::new();
        for (name, view) in file.tensors() {
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(EvalError::Weights {
                    what: name,
                    why: "not float32".into(),
                });
            }
            let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
            let tensor = Tensor::f_from_data_size(view.data(), &shape, Kind::Float)?;
            tensors.insert(name, tensor);
        }
        let vs = VarStore::new(device);
        let classifier = Classifier::new(&vs.root());
        tch::no_grad(|| -> Result<(), EvalError> {
            for (name, mut var) in vs.variables() {
                let src = tensors.get(&name).ok_or_else(|| EvalError::Weights {
                    what: name.clone(),
                    why: "missing from the file".into(),
                })?;
                if src.size() != var.size() {
                    return Err(EvalError::Weights {
                        what: name,
                        why: format!("shape {:?}, expected {:?}", src.size(), var.size()),
                    });
                }
                var.f_copy_(src)?;
            }
            Ok(())
        })?;
        Ok((classifier, vs))
    }

    /// Penultimate features `(N, 84)` of images `(N, 1, 28, 28)` scaled to [0, 1].
    pub fn features(&self, xs: &Tensor) -> Tensor {
        let xs = xs.apply(&self.conv1).relu().max_pool2d_default(2);
        let xs = xs.apply(&self.conv2).relu().max_pool2d_default(2);
        let xs = xs.flatten(1, -1).apply(&self.fc1).relu();
        xs.apply(&self.fc2).relu()
    }

    /// Class logits from features.
    pub fn head(&self, features: &Tensor) -> Tensor {
        self.fc3.forward(features)
    }
}

impl ModuleT for Classifier {
    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        self.head(&self.features(xs))
    }
}

/// Writes the var store as safetensors; returns its SHA-256.
pub fn save(vs: &VarStore, path: &std::path::Path) -> Result<String, EvalError> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let named: Vec<(String, Tensor)> = named
        .into_iter()
        .map(|(n, t)| (n, t.to_device(Device::Cpu).contiguous()))
        .collect();
    gan_data::write_safetensors(&named, path).map_err(|source| EvalError::Io {
        path: path.to_owned(),
        source,
    })?;
    let bytes = std::fs::read(path).map_err(|source| EvalError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
