//! Config files: `config.toml` as runs write it, or a config of the first release
//! converted (module `legacy`); and settings changed one by one ([`TrainConfig::with_settings`],
//! `gan train --set path.to.field=VALUE`), read back exactly as a file is.

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

/// One `path.to.field=VALUE` of [`TrainConfig::with_settings`]: a dotted path into the
/// config's TOML tables and a TOML value (a bare word is a string).
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub path: Vec<String>,
    pub value: toml::Value,
    /// As the user wrote it, for errors.
    pub text: String,
}

impl Setting {
    /// `model.generator.latent_dim=2`, `model.fake_mode=inference`, `grid=[8, 8]`.
    pub fn parse(text: &str) -> Result<Setting, TrainError> {
        let refuse = |why: &str| TrainError::BadSetting {
            setting: text.to_owned(),
            why: why.to_owned(),
        };
        let (path, value) = text
            .split_once('=')
            .ok_or_else(|| refuse("expected path.to.field=VALUE"))?;
        let path: Vec<String> = path.trim().split('.').map(str::to_owned).collect();
        if path.iter().any(|part| {
            part.is_empty()
                || !part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }) {
            return Err(refuse(
                "the path is field names joined by dots, as in model.generator.latent_dim",
            ));
        }
        let value = value.trim();
        let value = match toml::from_str::<toml::Table>(&format!("value = {value}")) {
            Ok(mut table) => table.remove("value").unwrap_or(toml::Value::Boolean(false)),
            // A bare word, as the enums' values are spelled: a string.
            Err(_) => toml::Value::String(value.to_owned()),
        };
        Ok(Setting {
            path,
            value,
            text: text.to_owned(),
        })
    }
}

impl TrainConfig {
    /// This config with `settings` applied to its TOML form, then read back and checked as a
    /// config file is. A setting names an existing field, or an optional one its table
    /// accepts; a value of another type than the field's, an unknown field (the error lists
    /// the table's fields) or a value out of range is refused naming the setting.
    pub fn with_settings(&self, settings: &[Setting]) -> Result<TrainConfig, TrainError> {
        let text = self.to_toml()?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| TrainError::BadSetting {
            setting: String::new(),
            why: e.to_string(),
        })?;
        for setting in settings {
            apply(&mut table, setting)?;
        }
        let text = toml::to_string(&table).map_err(|e| TrainError::BadSetting {
            setting: settings_text(settings),
            why: e.to_string(),
        })?;
        let config = toml::from_str::<TrainConfig>(&text).map_err(|e| TrainError::BadSetting {
            setting: blamed(settings, e.message()),
            why: e.message().trim_end().to_owned(),
        })?;
        config.validate().map_err(|e| TrainError::BadSetting {
            setting: blamed(settings, &e.to_string()),
            why: e.to_string(),
        })?;
        Ok(config)
    }
}

/// Sets `setting` in `table`, refusing a path through a value that is not a table and a
/// value whose type differs from the field's.
fn apply(table: &mut toml::Table, setting: &Setting) -> Result<(), TrainError> {
    let refuse = |why: String| TrainError::BadSetting {
        setting: setting.text.clone(),
        why,
    };
    let (field, parents) = setting
        .path
        .split_last()
        .ok_or_else(|| refuse("an empty path".to_owned()))?;
    let mut here = table;
    let mut walked = Vec::new();
    for part in parents {
        walked.push(part.as_str());
        // A table the config leaves out (an optional one, or a misspelt name the read-back
        // refuses with the fields it expects) is started here.
        let entry = here
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        here = match entry {
            toml::Value::Table(inner) => inner,
            _ => {
                return Err(refuse(format!(
                    "{} is a value, not a table",
                    walked.join(".")
                )))
            }
        };
    }
    if let Some(old) = here.get(field.as_str()) {
        let fits = old.type_str() == setting.value.type_str()
            || matches!(
                (old, &setting.value),
                (toml::Value::Float(_), toml::Value::Integer(_))
            );
        if !fits {
            return Err(refuse(format!(
                "{} is {} ({}), not {}",
                setting.path.join("."),
                article(old.type_str()),
                old,
                article(setting.value.type_str())
            )));
        }
    }
    let value = match (here.get(field.as_str()), &setting.value) {
        (Some(toml::Value::Float(_)), toml::Value::Integer(i)) => toml::Value::Float(*i as f64),
        (_, value) => value.clone(),
    };
    here.insert(field.clone(), value);
    Ok(())
}

fn article(kind: &str) -> String {
    match kind {
        "integer" | "array" => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

fn settings_text(settings: &[Setting]) -> String {
    settings
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" --set ")
}

/// The setting an error is about: the one whose quoted name or value the parser's message
/// names, else the one whose field the message names, else all of them.
fn blamed(settings: &[Setting], message: &str) -> String {
    let quoted = |s: &&Setting| {
        s.path
            .iter()
            .any(|part| message.contains(&format!("`{part}`")))
            || s.value
                .as_str()
                .is_some_and(|v| message.contains(&format!("`{v}`")))
    };
    let named = |s: &&Setting| s.path.last().is_some_and(|f| message.contains(f.as_str()));
    settings
        .iter()
        .rev()
        .find(quoted)
        .or_else(|| settings.iter().rev().find(named))
        .map_or_else(|| settings_text(settings), |s| s.text.clone())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn set(config: &TrainConfig, settings: &[&str]) -> Result<TrainConfig, TrainError> {
        let settings: Vec<Setting> = settings
            .iter()
            .map(|s| Setting::parse(s).unwrap())
            .collect();
        config.with_settings(&settings)
    }

    #[test]
    fn settings_change_fields_of_any_type_and_refuse_what_a_file_would() {
        let mlp = TrainConfig::preset("mlp").unwrap();
        let changed = set(
            &mlp,
            &["steps=20", "grid=[2, 3]", "model.generator_optimizer.lr=1"],
        )
        .unwrap();
        assert_eq!((changed.steps, changed.grid), (20, [2, 3]));
        let crate::ModelConfig::Gan(gan) = &changed.model else {
            panic!("mlp is a GAN")
        };
        assert_eq!(gan.generator_optimizer.lr, 1.0);
        // Checked as a whole: tanh output needs data in [-1, 1].
        let err = set(&mlp, &["scaling=zero-one"]).unwrap_err().to_string();
        assert!(
            err.contains("--set scaling=zero-one: invalid setting scaling"),
            "{err}"
        );
        // An optional field the preset leaves out, accepted where its table has it.
        let penalized = set(
            &mlp,
            &[
                "model.gradient_penalty=1.0",
                "model.discriminator_update=joint",
            ],
        )
        .unwrap();
        let crate::ModelConfig::Gan(gan) = &penalized.model else {
            panic!("mlp is a GAN")
        };
        assert_eq!(gan.gradient_penalty, Some(1.0));

        let refused = |settings: &[&str]| set(&mlp, settings).unwrap_err().to_string();
        let err = refused(&["steps=many"]);
        assert!(
            err.contains("--set steps=many: steps is an integer"),
            "{err}"
        );
        let err = refused(&["stepz=3"]);
        assert!(
            err.contains("--set stepz=3: unknown field `stepz`"),
            "{err}"
        );
        let err = refused(&["steps=1", "model.gradient_penalty=1.0"]);
        assert!(err.contains("--set model.gradient_penalty=1.0"), "{err}");
        assert!(err.contains("discriminator_update"), "{err}");
        let err = refused(&["steps.x=3"]);
        assert!(err.contains("steps is a value, not a table"), "{err}");
        assert!(Setting::parse("=3").is_err());
        assert!(Setting::parse("a b=3").is_err());
    }
}
