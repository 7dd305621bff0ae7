//! Moving a network's parameters to and from named tensors (safetensors files).

use std::collections::HashMap;
use std::path::Path;

use tch::nn::VarStore;
use tch::Tensor;

use crate::error::ModelError;

/// The var store's tensors (parameters and running statistics), named `prefix` + var name,
/// sorted by name so files are byte-for-byte reproducible.
pub fn named_tensors(vs: &VarStore, prefix: &str) -> Vec<(String, Tensor)> {
    let mut named: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(name, t)| (format!("{prefix}{name}"), t))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

/// Copies into every variable of `vs` the tensor named `prefix` + its name from `tensors`,
/// checking presence and shape first so a wrong file changes nothing. `path` names the
/// source in errors.
pub fn assign(
    vs: &VarStore,
    tensors: &HashMap<String, Tensor>,
    prefix: &str,
    path: &Path,
) -> Result<(), ModelError> {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let mut pairs = Vec::with_capacity(vars.len());
    for (name, var) in &vars {
        let key = format!("{prefix}{name}");
        let src = tensors.get(&key).ok_or_else(|| ModelError::MissingTensor {
            path: path.to_owned(),
            name: key.clone(),
        })?;
        if src.size() != var.size() {
            return Err(ModelError::ShapeMismatch {
                path: path.to_owned(),
                name: key,
                found: src.size(),
                expected: var.size(),
            });
        }
        pairs.push((var, src));
    }
    tch::no_grad(|| {
        for (var, src) in pairs {
            let mut var = var.shallow_clone();
            var.f_copy_(src).map_err(|source| ModelError::Torch {
                path: path.to_owned(),
                source,
            })?;
        }
        Ok(())
    })
}
