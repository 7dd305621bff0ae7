//! The `gan` binary runs on its own: no LD_LIBRARY_PATH, no exported LIBTORCH.

use std::process::Command;

fn gan() -> Command {
    gan_tests::gan(env!("CARGO_BIN_EXE_gan"))
}

#[test]
fn help_lists_the_commands() {
    let out = gan().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("info"), "{text}");
}

#[test]
fn info_reports_versions_without_library_path() {
    let out = gan().arg("info").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("tch       0.24.0"), "{text}");
    assert!(text.contains("libtorch  2.11.0"), "{text}");
    assert!(text.contains("threads"), "{text}");
    assert!(text.contains("matmul    "), "{text}");
}

#[test]
fn unknown_command_is_refused_with_a_message() {
    let out = gan().arg("trian").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("trian"));
}

#[test]
fn presets_are_listed_with_their_family_and_description() {
    let out = gan().arg("presets").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), gan_training::PRESETS.len(), "{text}");
    for (line, preset) in lines.iter().zip(gan_training::PRESETS) {
        assert!(
            line.starts_with(preset.name) && line.contains(preset.description),
            "{line}"
        );
    }
    assert!(lines[0].contains("(default)"), "{text}");
    // As JSON (what `cargo xtask bench` reads): the same list, each with its reference.
    let out = gan().args(["presets", "--json"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), gan_training::PRESETS.len(), "{text}");
    for (row, preset) in rows.iter().zip(gan_training::PRESETS) {
        assert_eq!(row["name"], preset.name);
        assert_eq!(row["reference"]["script"], preset.reference.script);
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(preset.reference.script);
        assert!(script.is_file(), "{}", script.display());
    }
    assert_eq!(rows[0]["default"], true);
    // The same list is what --preset accepts.
    let out = gan().args(["train", "--preset", "nope"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    for preset in gan_training::PRESETS {
        assert!(stderr.contains(preset.name), "{stderr}");
    }
}
