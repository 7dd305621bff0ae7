//! The `gan` binary runs on its own: no LD_LIBRARY_PATH, no exported LIBTORCH.

use std::path::Path;
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
    // The same facts as one JSON object, for scripts.
    let out = gan_tests::succeed(gan().args(["info", "--json"]));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["tch"], "0.24.0");
    assert!(
        info["libtorch"].as_str().unwrap().starts_with("2.11.0"),
        "{info}"
    );
    assert!(info["threads"]["intra_op"].as_u64().unwrap() >= 1, "{info}");
    assert!(info["matmul_auto"]["kernel"].is_string(), "{info}");
    assert!(info["cuda"]["available"].is_boolean(), "{info}");
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

/// `gan presets --show` prints a preset's complete config; `--set` changes any field of it,
/// read back as a file is: the changed model trains, and a bad path or value is refused
/// naming the setting, with nothing written.
#[test]
fn a_preset_is_shown_and_any_field_set() {
    let out = gan_tests::succeed(gan().args(["presets", "--show", "mlp"]));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(shown.contains("[model.generator]"), "{shown}");
    assert!(shown.contains("latent_dim = 100"), "{shown}");

    let s = gan_tests::TinySetup::new();
    let run = s.root.join("latent2");
    let args = [
        "--preset",
        "mlp",
        "--set",
        "model.generator.latent_dim=2",
        "--set",
        "model.fake_mode=inference",
        "--steps",
        "10",
    ];
    gan_tests::train_tiny(env!("CARGO_BIN_EXE_gan"), &s.data, &run, &args);
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("latent_dim = 2"), "{config}");
    assert!(config.contains("fake_mode = \"inference\""), "{config}");
    assert!(run.join("checkpoints/step-00000010.toml").is_file());

    for (setting, says) in [
        (
            "model.generator.latent_size=2",
            "unknown field `latent_size`, expected one of `latent_dim`",
        ),
        (
            "model.generator.latent_dim=abc",
            "model.generator.latent_dim is an integer (100), not a string",
        ),
        ("model.generator.latent_dim=0", "generator.latent_dim = 0"),
        (
            "model.fake_mode=sideways",
            "unknown variant `sideways`, expected `inference` or `training`",
        ),
        ("latent_dim", "expected path.to.field=VALUE"),
    ] {
        let out = s.root.join("refused");
        let stderr = gan_tests::fail(
            gan()
                .args(["train", "--preset", "mlp", "--set", setting, "--steps", "2"])
                .arg("--data-dir")
                .arg(&s.data)
                .arg("--out")
                .arg(&out),
        );
        assert!(stderr.contains(setting), "{setting}: {stderr}");
        assert!(stderr.contains(says), "{setting}: {stderr}");
        assert!(!out.exists(), "{setting}: a run directory was left behind");
    }
}

/// Completions for every shell and the man page come from the same flags as `--help`.
#[test]
fn completions_and_the_man_page_are_generated() {
    for (shell, marker) in [
        ("bash", "_gan()"),
        ("zsh", "#compdef gan"),
        ("fish", "complete -c gan"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = gan_tests::succeed(gan().args(["completions", shell]));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["train", "presets", "--preset", "--set"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let out = gan_tests::succeed(gan().arg("man"));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.contains(".TH gan 1") && page.contains("completions"),
        "{page}"
    );
    let stderr = gan_tests::fail(gan().args(["completions", "tcsh"]));
    assert!(stderr.contains("tcsh"), "{stderr}");
}

/// Commands that write files say where: `generate` with no output refuses instead of writing
/// into the current folder, and `eval train-classifier` never replaces a file (the shipped
/// classifier weights included) without --overwrite.
#[test]
fn commands_write_only_where_told() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = gan_tests::fail(gan().current_dir(dir.path()).args([
        "generate",
        "--checkpoint",
        "no-such-run",
    ]));
    assert!(stderr.contains("nothing to write: pass --grid"), "{stderr}");
    // An output file is named for what it holds; --out is a run directory, `train`'s alone.
    for (command, flag) in [("generate", "--images"), ("interpolate", "--images")] {
        let out = gan_tests::succeed(gan().args([command, "--help"]));
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains(flag) && !help.contains("--out "),
            "{command}: {help}"
        );
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let weights = dir.path().join("lenet.safetensors");
    std::fs::write(&weights, b"kept").unwrap();
    let stderr = gan_tests::fail(
        gan()
            .args(["eval", "train-classifier", "--weights"])
            .arg(&weights),
    );
    assert!(stderr.contains("pass --overwrite"), "{stderr}");
    assert_eq!(std::fs::read(&weights).unwrap(), b"kept");
    let stderr = gan_tests::fail(gan().args(["eval", "train-classifier"]));
    assert!(stderr.contains("--weights"), "{stderr}");

    // `--device auto` is every command's default, bench's too.
    let out = gan_tests::succeed(gan().args(["bench", "--help"]));
    let help = String::from_utf8_lossy(&out.stdout);
    let device = help.lines().find(|l| l.contains("--device")).unwrap_or("");
    assert!(device.contains("[default: auto]"), "{help}");
}

/// Under a time budget the lines say how much of it is used, not the step cap that stands
/// in for "unlimited".
#[test]
fn a_time_budget_is_reported_as_time() {
    let s = gan_tests::TinySetup::new();
    let run = s.root.join("timed");
    let out = gan_tests::succeed(
        gan()
            .args([
                "train",
                "--batch-size",
                "8",
                "--device",
                "cpu",
                "--threads",
                "1",
            ])
            .args(["--minutes", "0.02", "--sample-every", "2", "--data-dir"])
            .arg(&s.data)
            .arg("--out")
            .arg(&run),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(run.join("train.log")).unwrap();
    for text in [&*stdout, &log] {
        assert!(!text.contains("1099511627776"), "{text}");
        assert!(text.contains("of 0.02 min"), "{text}");
    }
    assert!(log.contains("steps=until the time budget"), "{log}");
}

/// `gan train --json` prints one JSON object per event and nothing else on standard output.
#[test]
fn train_json_prints_one_object_per_event() {
    let s = gan_tests::TinySetup::new();
    let run = s.root.join("json");
    let out = gan_tests::succeed(
        gan()
            .args([
                "train",
                "--batch-size",
                "8",
                "--device",
                "cpu",
                "--threads",
                "1",
            ])
            .args([
                "--steps",
                "4",
                "--sample-every",
                "2",
                "--checkpoint-every",
                "2",
            ])
            .args([
                "--eval-every",
                "4",
                "--eval-samples",
                "16",
                "--json",
                "--data-dir",
            ])
            .arg(&s.data)
            .arg("--out")
            .arg(&run),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"start"), "{stdout}");
    for kind in ["sample", "checkpoint", "evaluation", "finish", "report"] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    assert_eq!(events[0]["steps"], 4);
    assert_eq!(events[0]["resumed"], false);
    let finish = events.iter().find(|e| e["event"] == "finish").unwrap();
    assert_eq!(finish["step"], 4);
    assert!(finish["checkpoint"]
        .as_str()
        .unwrap()
        .ends_with("step-00000004.toml"));
    let evaluation = events.iter().find(|e| e["event"] == "evaluation").unwrap();
    assert!(
        evaluation["report"]["frechet_distance"].is_number(),
        "{evaluation}"
    );
}

/// `--device` takes `cuda:N` on every command; a name it does not know is refused with the
/// names it knows, and a device this machine lacks is refused before anything is written.
#[test]
fn a_cuda_device_can_be_named_by_index() {
    let dir = tempfile::tempdir().unwrap();
    for command in [
        "train",
        "generate",
        "eval",
        "interpolate",
        "bench",
        "figures",
    ] {
        let out = gan_tests::succeed(gan().args([command, "--help"]));
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("--device <DEVICE>"), "{command}: {help}");
        let stderr = gan_tests::fail(gan().args([command, "--device", "cuda:x"]));
        assert!(
            stderr.contains("choose cpu, cuda, cuda:N, mps or auto"),
            "{command}: {stderr}"
        );
    }
    // A GPU index far past any machine's: refused however many GPUs this one has.
    let run = dir.path().join("run");
    let stderr = gan_tests::fail(
        gan()
            .args(["train", "--device", "cuda:4096", "--steps", "1", "--out"])
            .arg(&run),
    );
    assert!(stderr.contains("cuda:4096"), "{stderr}");
    let stderr = gan_tests::fail(
        gan()
            .args([
                "train",
                "--set",
                "device=cuda:4096",
                "--steps",
                "1",
                "--out",
            ])
            .arg(&run),
    );
    assert!(stderr.contains("cuda:4096"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// `--resume RUN --from-step N` continues from an earlier checkpoint: what the run wrote after
/// step N goes, and the steps trained again are the steps the run trained the first time.
#[test]
fn a_run_resumes_from_an_earlier_checkpoint() {
    let s = gan_tests::TinySetup::new();
    let run = s.root.join("rewound");
    let train = |extra: &[&str]| {
        let mut cmd = gan();
        cmd.args(["train", "--device", "cpu", "--threads", "1", "--quiet"])
            .arg("--data-dir")
            .arg(&s.data)
            .args(extra);
        cmd
    };
    let run_arg = run.to_str().unwrap();
    gan_tests::succeed(&mut train(&[
        "--batch-size",
        "8",
        "--steps",
        "8",
        "--checkpoint-every",
        "2",
        "--sample-every",
        "2",
        "--set",
        "keep_checkpoints=10",
        "--out",
        run_arg,
    ]));
    let checkpoint = |step: u64| run.join(format!("checkpoints/step-{step:08}.safetensors"));
    let first_step_6 = std::fs::read(checkpoint(6)).unwrap();

    let before = gan_tests::snapshot(&run);
    let stderr = gan_tests::fail(&mut train(&["--resume", run_arg, "--from-step", "5"]));
    assert!(
        stderr.contains("no checkpoint of step 5; its checkpoints are of steps 2, 4, 6, 8"),
        "{stderr}"
    );
    assert!(
        gan_tests::snapshot(&run) == before,
        "a refused rewind changed the run"
    );
    let stderr = gan_tests::fail(&mut train(&["--from-step", "4"]));
    assert!(stderr.contains("--resume"), "{stderr}");

    gan_tests::succeed(&mut train(&[
        "--resume",
        run_arg,
        "--from-step",
        "4",
        "--steps",
        "6",
    ]));
    assert_eq!(std::fs::read(checkpoint(6)).unwrap(), first_step_6);
    assert!(!checkpoint(8).exists());
    assert!(!run.join("samples/image_at_epoch_0008.png").exists());
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let steps: Vec<&str> = metrics
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(steps, ["1", "2", "3", "4", "5", "6"]);
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(
        history.contains("rewound to the checkpoint of step 4"),
        "{history}"
    );
}

/// Every `gan …` line in the README's and docs' shell blocks names a command and flags that
/// exist, with values their parsers take (checked by clap with `--help` appended, which stops
/// before anything runs).
#[test]
fn the_documented_commands_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let mut checked = 0;
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        for line in documented_commands(&text) {
            let args: Vec<&str> = line.split_whitespace().skip(1).collect();
            let out = gan().args(&args).arg("--help").output().unwrap();
            assert!(
                out.status.success(),
                "{}: `{line}`:\n{}",
                page.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} documented commands found");
}

/// The `gan` command lines of a page's ```sh blocks: continuations joined, comments and
/// redirections cut off.
fn documented_commands(page: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_shell = false;
    let mut pending = String::new();
    for line in page.lines() {
        if line.starts_with("```") {
            in_shell = line == "```sh" || line == "```bash";
            continue;
        }
        if !in_shell {
            continue;
        }
        let code = line.split(" #").next().unwrap_or("").trim_end();
        let (code, continued) = match code.strip_suffix('\\') {
            Some(code) => (code, true),
            None => (code, false),
        };
        pending.push_str(code);
        pending.push(' ');
        if continued {
            continue;
        }
        let command = pending
            .split(['>', '|'])
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        pending.clear();
        if command.starts_with("gan ") || command == "gan" {
            commands.push(command);
        }
    }
    commands
}

/// `--preset` with `--config` is refused with the reason and the way to say it, before
/// anything is written.
#[test]
fn a_preset_and_a_config_file_together_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mine.toml");
    let shown = gan_tests::succeed(gan().args(["presets", "--show", "vae"]));
    std::fs::write(&config, &shown.stdout).unwrap();
    let run = dir.path().join("run");
    let stderr = gan_tests::fail(
        gan()
            .args(["train", "--preset", "mlp", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(&run),
    );
    assert!(
        stderr.contains("a config file is complete")
            && stderr.contains("--preset mlp with --set PATH=VALUE"),
        "{stderr}"
    );
    assert!(!run.exists());
}
