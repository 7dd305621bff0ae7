//! `gan presets`: every preset with its family and one line of description.

use anyhow::Result;
use gan_training::{DEFAULT_PRESET, PRESETS};

/// The preset names, for clap's `value_parser` (possible values in `--help` and errors).
pub fn parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(PRESETS.iter().map(|p| p.name))
}

pub fn run() -> Result<()> {
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
