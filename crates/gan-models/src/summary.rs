//! Keras-style model summaries: layers, output shapes and parameter counts.

use std::fmt;

use tch::nn::VarStore;

use crate::layers::LayerInfo;

/// A network's layers with their parameter counts, read from its var store.
#[derive(Debug, Clone)]
pub struct Summary {
    pub name: String,
    pub rows: Vec<(LayerInfo, i64)>,
    pub total: i64,
    pub trainable: i64,
    pub non_trainable: i64,
}

impl Summary {
    /// The summary of the network stored under `prefix` in a var store that holds others
    /// too (a VAE's encoder beside its decoder): its layers named `prefix.layer`, its totals
    /// its own rows', all trainable.
    pub fn of_network(prefix: &str, layers: Vec<LayerInfo>, vs: &VarStore) -> Summary {
        let layers = layers
            .into_iter()
            .map(|mut layer| {
                layer.name = format!("{prefix}.{}", layer.name);
                layer
            })
            .collect();
        let mut summary = Summary::new(prefix, layers, vs);
        let own: i64 = summary.rows.iter().map(|(_, p)| p).sum();
        (summary.total, summary.trainable, summary.non_trainable) = (own, own, 0);
        summary
    }

    /// Counts come from the var store itself, so they are what training really updates.
    /// Non-trainable parameters are those without gradients (BatchNorm running statistics).
    pub fn new(name: &str, layers: Vec<LayerInfo>, vs: &VarStore) -> Summary {
        let vars = vs.variables();
        let count = |prefix: &str| -> i64 {
            vars.iter()
                .filter(|(n, _)| n.starts_with(&format!("{prefix}.")))
                .map(|(_, t)| t.numel() as i64)
                .sum()
        };
        let rows = layers
            .into_iter()
            .map(|layer| {
                let params = count(&layer.name);
                (layer, params)
            })
            .collect();
        let (mut trainable, mut non_trainable) = (0, 0);
        for tensor in vars.values() {
            if tensor.requires_grad() {
                trainable += tensor.numel() as i64;
            } else {
                non_trainable += tensor.numel() as i64;
            }
        }
        Summary {
            name: name.to_owned(),
            rows,
            total: trainable + non_trainable,
            trainable,
            non_trainable,
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = "=".repeat(72);
        writeln!(f, "Model: \"{}\"", self.name)?;
        writeln!(f, "{}", "_".repeat(72))?;
        writeln!(
            f,
            " {:<36}{:<22}{:>12}",
            "Layer (type)", "Output Shape", "Param #"
        )?;
        writeln!(f, "{rule}")?;
        for (layer, params) in &self.rows {
            let shape = std::iter::once("None".to_owned())
                .chain(layer.output_shape.iter().map(i64::to_string))
                .collect::<Vec<_>>()
                .join(", ");
            writeln!(
                f,
                " {:<36}{:<22}{:>12}",
                format!("{} ({})", layer.name, layer.kind),
                format!("({shape})"),
                thousands(*params)
            )?;
        }
        writeln!(f, "{rule}")?;
        writeln!(
            f,
            "Total params: {} ({:.2} MB)",
            thousands(self.total),
            self.total as f64 * 4.0 / (1024.0 * 1024.0)
        )?;
        writeln!(f, "Trainable params: {}", thousands(self.trainable))?;
        writeln!(f, "Non-trainable params: {}", thousands(self.non_trainable))?;
        write!(f, "{}", "_".repeat(72))
    }
}

/// `1493520` → `1,493,520`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::{MlpDiscriminatorConfig, MlpGeneratorConfig};
    use crate::{DiscriminatorConfig, GeneratorConfig};
    use tch::Device;

    #[test]
    fn tutorial_parameter_counts_match_keras() {
        let vs = VarStore::new(Device::Cpu);
        let g = GeneratorConfig::Mlp(MlpGeneratorConfig::tutorial())
            .build(&vs.root(), 0)
            .unwrap();
        let s = Summary::new("generator", g.layers(), &vs);
        assert_eq!(
            (s.total, s.trainable, s.non_trainable),
            (1_493_520, 1_489_936, 3_584)
        );
        let text = s.to_string();
        assert!(text.contains("Total params: 1,493,520"), "{text}");
        assert!(
            text.contains("fc1 (Dense)") && text.contains("25,856"),
            "{text}"
        );
        assert!(text.contains("bn1 (BatchNormalization)") && text.contains("(None, 1, 28, 28)"));

        let vs = VarStore::new(Device::Cpu);
        let d = DiscriminatorConfig::Mlp(MlpDiscriminatorConfig::tutorial())
            .build(&vs.root(), 0)
            .unwrap();
        let s = Summary::new("discriminator", d.layers(), &vs);
        assert_eq!(
            (s.total, s.trainable, s.non_trainable),
            (533_505, 533_505, 0)
        );
        let per_layer: i64 = s.rows.iter().map(|(_, p)| p).sum();
        assert_eq!(per_layer, s.total);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_493_520), "1,493,520");
        assert_eq!(thousands(-12_345), "-12,345");
    }
}
