//! Config files: `config.toml` as runs write it, or a config of the first release
//! converted ([`crate::legacy`]).

use std::path::Path;

use crate::config::TrainConfig;
use crate::error::TrainError;

impl TrainConfig {
    /// Reads a TOML config. Missing fields are an error naming them: a config file is complete.
    /// A config written before model families (format of the first release: `generator`,
    /// `discriminator` and `adam` at the top level) is converted.
    pub fn from_toml_file(path: &Path) -> Result<TrainConfig, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let parse_error = |message: String| TrainError::ConfigParse {
            path: path.to_owned(),
            message,
        };
        let config = if crate::legacy::is_legacy_config(&text) {
            let config = crate::legacy::convert_config(&text).map_err(parse_error)?;
            tracing::info!(path = %path.display(), "converted a config of the first release");
            config
        } else {
            toml::from_str::<TrainConfig>(&text)
                .map_err(|e| parse_error(describe_toml_error(&text, &e)))?
        };
        config.validate()?;
        Ok(config)
    }
}

/// The parser's message, except for an unknown key inside a model table: the model's tables
/// are read through the family's tag, which loses where the key stood, so the parser points
/// at `[model]`. Then the key's own line and table are named instead.
fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    let located = error
        .message()
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .and_then(|(key, _)| {
            let from = error.span().map_or(0, |s| s.start);
            let first_line = text[..from.min(text.len())].lines().count().max(1);
            locate_key(text, key, first_line)
        });
    match located {
        Some((line, table)) => format!(
            "TOML parse error at line {line}, in [{table}]: {}",
            error.message().trim_end()
        ),
        None => error.to_string(),
    }
}

/// The 1-based line of the first `key = …` at or after `first_line`, and the table it is in.
fn locate_key(text: &str, key: &str, first_line: usize) -> Option<(usize, String)> {
    let mut table = String::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = name.trim_matches(['[', ']']).trim().to_owned();
        } else if i + 1 >= first_line
            && line
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return Some((i + 1, table));
        }
    }
    None
}
