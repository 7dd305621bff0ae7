//! Random values for every flag of every subcommand, read from `gan`'s own help so that new
//! flags are covered as they come: the command is refused or fails (exit 1 or 2), never
//! panics (101) or dies by a signal, and writes no file.
//!
//! Each run points at nothing usable (an empty data folder with no mirror, a missing
//! checkpoint or run), so a value that is accepted leads to a clean failure a little later
//! instead of to minutes of work.

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;

fn gan() -> Command {
    gan_tests::gan(env!("CARGO_BIN_EXE_gan"))
}

/// Subcommands that can succeed without any input and write nothing (they print).
const MAY_SUCCEED: &[&str] = &["summary"];

/// One subcommand (a path such as `["eval", "train-classifier"]`), its value-taking flags and
/// how many positional arguments it needs.
#[derive(Debug, Clone)]
struct Subcommand {
    path: Vec<String>,
    flags: Vec<String>,
    positionals: usize,
}

fn help(path: &[String]) -> String {
    let out = gan().args(path).arg("--help").output().unwrap();
    assert!(out.status.success(), "gan {path:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The names under `Commands:` in a help text (without `help`).
fn command_names(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every subcommand of `gan`, nested ones too, with what it takes.
fn subcommands() -> Vec<Subcommand> {
    let mut found = Vec::new();
    let mut pending: Vec<Vec<String>> = command_names(&help(&[]))
        .into_iter()
        .map(|n| vec![n])
        .collect();
    while let Some(path) = pending.pop() {
        let text = help(&path);
        for nested in command_names(&text) {
            let mut deeper = path.clone();
            deeper.push(nested);
            pending.push(deeper);
        }
        let flags = text
            .lines()
            .filter_map(|l| {
                let l = l.trim_start();
                let l = l
                    .split_once(", ")
                    .filter(|(s, _)| s.len() == 2)
                    .map_or(l, |p| p.1);
                let (flag, rest) = l.split_once(' ')?;
                (flag.starts_with("--") && rest.starts_with('<')).then(|| flag.to_owned())
            })
            .collect();
        let usage = text.lines().find(|l| l.starts_with("Usage:")).unwrap_or("");
        let positionals = usage
            .split_whitespace()
            .filter(|w| w.starts_with('<') && !w.contains("COMMAND"))
            .count();
        found.push(Subcommand {
            path,
            flags,
            positionals,
        });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// Values people type by mistake, and values at the edges of what numbers can hold.
fn value() -> impl Strategy<Value = String> {
    let specials = prop::sample::select(vec![
        "0",
        "-1",
        "1",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "4294967296",
        "NaN",
        "nan",
        "inf",
        "-inf",
        "1e308",
        "1e-320",
        "",
        " ",
        "-",
        "--",
        "0x10",
        "3,17",
        "cuda:1",
    ])
    .prop_map(str::to_owned);
    prop_oneof![
        4 => specials,
        1 => any::<u64>().prop_map(|v| v.to_string()),
        1 => any::<i64>().prop_map(|v| v.to_string()),
        1 => any::<f64>().prop_map(|v| v.to_string()),
        // Relative: an absolute path could name a real folder of the machine to fetch into.
        1 => "[ -~]{0,40}".prop_filter("a relative value", |v| !v.starts_with('/')),
        1 => Just("x".repeat(100_000)),
    ]
}

/// Every file below `dir`.
fn files_under(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path.display().to_string());
            }
        }
    }
    files
}

#[test]
fn help_lists_the_subcommands_and_their_flags() {
    let all = subcommands();
    let names: Vec<String> = all.iter().map(|s| s.path.join(" ")).collect();
    for expected in [
        "train",
        "generate",
        "eval",
        "eval train-classifier",
        "bench",
    ] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    let train = all.iter().find(|s| s.path == ["train"]).unwrap();
    assert!(train.flags.iter().any(|f| f == "--steps"), "{train:?}");
    let report = all.iter().find(|s| s.path == ["report"]).unwrap();
    assert_eq!(report.positionals, 1, "{report:?}");
}

/// The value past `i64::MAX` that a `u64` flag accepts but TOML cannot store, for every flag.
#[test]
fn every_flag_refuses_or_survives_the_first_integer_past_i64() {
    for sub in subcommands_once() {
        for flag in &sub.flags {
            check(sub, flag, "9223372036854775808", true).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_flag_value_is_refused_or_fails_cleanly_and_writes_nothing(
        pick in any::<prop::sample::Index>(),
        flag_pick in any::<prop::sample::Index>(),
        value in value(),
        joined in any::<bool>(),
    ) {
        let all = subcommands_once();
        let with_flags: Vec<&Subcommand> = all.iter().filter(|s| !s.flags.is_empty()).collect();
        let sub = with_flags[pick.index(with_flags.len())];
        let flag = &sub.flags[flag_pick.index(sub.flags.len())];
        let outcome = check(sub, flag, &value, joined);
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}

/// Runs `gan SUB FLAG VALUE` (as `FLAG=VALUE` when `joined`) where nothing usable is found;
/// says what went wrong, if anything did.
fn check(sub: &Subcommand, flag: &str, value: &str, joined: bool) -> Result<(), String> {
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = gan();
    cmd.current_dir(cwd.path())
        .env("GAN_DATA_DIR", cwd.path().join("no-mnist"))
        .env("GAN_DATA_MIRROR", cwd.path().join("no-mirror"))
        .args(&sub.path);
    for _ in 0..sub.positionals {
        cmd.arg(cwd.path().join("no-run"));
    }
    if flag != "--checkpoint" && sub.flags.iter().any(|f| f == "--checkpoint") {
        cmd.arg("--checkpoint").arg(cwd.path().join("no-run"));
    }
    if joined {
        cmd.arg(format!("{flag}={value}"));
    } else {
        cmd.arg(flag).arg(value);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown: String = value.chars().take(60).collect();
    let run = format!("gan {} {flag} {shown}", sub.path.join(" "));
    let allowed: &[i32] = if MAY_SUCCEED.contains(&sub.path[0].as_str()) {
        &[0, 1, 2]
    } else {
        &[1, 2]
    };
    if !out.status.code().is_some_and(|c| allowed.contains(&c)) {
        return Err(format!("{run}: {}\n{stderr}", out.status));
    }
    let written = files_under(cwd.path());
    if !written.is_empty() {
        return Err(format!("{run} wrote {written:?}"));
    }
    Ok(())
}

/// [`subcommands`], read once for all cases.
fn subcommands_once() -> &'static [Subcommand] {
    static ALL: std::sync::OnceLock<Vec<Subcommand>> = std::sync::OnceLock::new();
    ALL.get_or_init(subcommands)
}
