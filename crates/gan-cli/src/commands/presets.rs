//! `gan presets`: every preset with its family and one line of description, or as JSON
//! (what `cargo xtask bench` reads its list of presets and their PyTorch references from),
//! or one preset's complete config (`--show NAME`).

use anyhow::Result;
use gan_training::{TrainConfig, DEFAULT_PRESET, PRESETS};

/// The preset names, for clap's `value_parser` (possible values in `--help` and errors).
pub fn parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(PRESETS.iter().map(|p| p.name))
}

#[derive(Debug, clap::Args)]
pub struct PresetsArgs {
    /// Print this preset's complete config as TOML: what `gan train --preset NAME` trains,
    /// and the paths `gan train --set` takes
    #[arg(long, value_name = "NAME", value_parser = parser(), conflicts_with = "json")]
    pub show: Option<String>,
    /// One JSON object per preset, one per line: name, family, default, description and the
    /// PyTorch eager reference the bench measures it against
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &PresetsArgs) -> Result<()> {
    if let Some(name) = &args.show {
        print!("{}", TrainConfig::preset(name)?.to_toml()?);
        return Ok(());
    }
    if args.json {
        for preset in PRESETS {
            let line = serde_json::json!({
                "name": preset.name,
                "family": preset.config().model.name(),
                "default": preset.name == DEFAULT_PRESET,
                "description": preset.description,
                "reference": preset.reference,
            });
            println!("{line}");
        }
        return Ok(());
    }
    let width = PRESETS.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for preset in PRESETS {
        let config = preset.config();
        let default = if preset.name == DEFAULT_PRESET {
            " (default)"
        } else {
            ""
        };
        println!(
            "{:width$}  {}{default}: {}",
            preset.name,
            config.model.name(),
            preset.description
        );
    }
    Ok(())
}
