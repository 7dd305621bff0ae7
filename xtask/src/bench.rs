//! `cargo xtask bench`: gan-rs against the PyTorch eager references (`bench/reference/`, one
//! per preset that has one), and against the machine's GEMM ceiling, written to
//! `bench/results.md` and `bench/results.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::data::{self, FetchDataArgs};
use crate::libtorch;

#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub data: FetchDataArgs,
    /// Threads for libtorch in both implementations [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Batch sizes to measure the MLP GAN presets at (the others run at their preset's own
    /// batch).
    #[arg(long, value_delimiter = ',', default_values_t = [64, 128, 256, 1024])]
    pub batch_sizes: Vec<u64>,
    /// Presets to measure [default: every one with a PyTorch reference].
    #[arg(long, value_delimiter = ',')]
    pub presets: Vec<String>,
    /// Timed repeats per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub repeats: u64,
}

/// A preset with its PyTorch eager reference, as `gan presets --json` lists them: the
/// preset list and the reference mapping live with the presets, not here.
#[derive(Debug)]
struct Preset {
    name: String,
    reference: Reference,
}

/// A preset's reference script, the images per timed repeat, and the batch sizes it is
/// measured at (`None`: the `--batch-sizes` of the MLP GAN sweep).
#[derive(Debug)]
struct Reference {
    script: String,
    images_per_repeat: u64,
    batches: Option<Vec<u64>>,
}

/// Every preset of the `gan` binary at `gan`.
fn presets(gan: &Path) -> Result<Vec<Preset>> {
    let output = Command::new(gan).args(["presets", "--json"]).output()?;
    if !output.status.success() {
        bail!(
            "{} presets --json failed: {}",
            gan.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| preset_of(&serde_json::from_str(line)?))
        .collect()
}

fn preset_of(line: &Value) -> Result<Preset> {
    let field = |value: &Value, key: &str| value.get(key).cloned().unwrap_or(Value::Null);
    let reference = field(line, "reference");
    let (Some(name), Some(script), Some(images_per_repeat)) = (
        field(line, "name").as_str().map(str::to_owned),
        field(&reference, "script").as_str().map(str::to_owned),
        field(&reference, "images_per_repeat").as_u64(),
    ) else {
        bail!("gan presets --json: a line without a name or a reference: {line}");
    };
    let batches = field(&reference, "batches")
        .as_array()
        .map(|batches| batches.iter().filter_map(Value::as_u64).collect());
    Ok(Preset {
        name,
        reference: Reference {
            script,
            images_per_repeat,
            batches,
        },
    })
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let torch_dir = libtorch::fetch(&libtorch::FetchArgs::default())?;
    let data_dir = data::fetch(&args.data)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build.args(["build", "--release", "-p", "gan-cli"]);
    if !build.status()?.success() {
        bail!("cargo build --release -p gan-cli failed");
    }
    let gan = PathBuf::from("target/release/gan");
    let references = presets(&gan)?;
    for name in &args.presets {
        if !references.iter().any(|r| &r.name == name) {
            let known: Vec<&str> = references.iter().map(|r| r.name.as_str()).collect();
            bail!(
                "--presets: no preset {name}; choose from {}",
                known.join(", ")
            );
        }
    }
    let python = crate::libtorch::venv_python(&torch_dir);
    if python.is_none() {
        eprintln!(
            "xtask: no Python with torch next to this libtorch; the PyTorch column stays empty"
        );
    }
    let mut rows = Vec::new();
    let chosen = references
        .iter()
        .filter(|r| args.presets.is_empty() || args.presets.contains(&r.name));
    for Preset {
        name: preset,
        reference,
    } in chosen
    {
        let batches = reference
            .batches
            .clone()
            .unwrap_or_else(|| args.batch_sizes.clone());
        for batch in batches {
            let steps = (reference.images_per_repeat / batch).max(10).to_string();
            let common = [
                "--preset".to_owned(),
                preset.clone(),
                "--batch-size".to_owned(),
                batch.to_string(),
                "--threads".to_owned(),
                threads.to_string(),
                "--steps".to_owned(),
                steps.clone(),
                "--warmup".to_owned(),
                "10".to_owned(),
                "--repeats".to_owned(),
                args.repeats.to_string(),
            ];
            eprintln!("xtask: bench {preset} batch {batch}");
            let mut ours = Command::new(&gan);
            ours.arg("bench")
                .args(&common)
                .args(["--device", "cpu", "--data-dir"])
                .arg(&data_dir);
            let ours = json_of(ours)?;
            // The same binary with libtorch's BLAS: what the choice of GEMM library is worth.
            let blas = if ours["matmul"] == "blas" {
                ours.clone()
            } else {
                let mut cmd = Command::new(&gan);
                cmd.arg("bench")
                    .args(&common)
                    .args(["--device", "cpu", "--matmul", "blas", "--data-dir"])
                    .arg(&data_dir);
                json_of(cmd)?
            };
            let reference = match &python {
                Some(python) => {
                    let mut cmd = Command::new(python);
                    cmd.arg(&reference.script)
                        .args(&common)
                        .arg("--data-dir")
                        .arg(&data_dir);
                    Some(json_of(cmd)?)
                }
                None => None,
            };
            rows.push(json!({ "gan_rs": ours, "gan_rs_blas": blas, "pytorch": reference }));
        }
    }
    let machine = json!({
        "cpu": cpu_model(),
        "logical_cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "threads": threads,
        "gan_rs": env!("CARGO_PKG_VERSION"),
        "torch": rows.iter().find_map(|r| r["pytorch"]["torch"].as_str().map(str::to_owned)),
    });
    std::fs::create_dir_all("bench")?;
    let all = json!({ "machine": machine, "rows": rows });
    std::fs::write(
        "bench/results.json",
        serde_json::to_string_pretty(&all)? + "\n",
    )?;
    let table = markdown(&machine, &rows);
    std::fs::write("bench/results.md", &table)?;
    println!("{table}");
    eprintln!("xtask: wrote bench/results.md and bench/results.json");
    Ok(())
}

fn json_of(mut cmd: Command) -> Result<Value> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("no JSON in the output")?;
    Ok(serde_json::from_str(line)?)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn markdown(machine: &Value, rows: &[Value]) -> String {
    let number = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut out = format!(
        "Machine: {} ({} logical CPUs), {} libtorch threads; gan-rs {}, PyTorch {}.\n\n",
        machine["cpu"].as_str().unwrap_or("?"),
        machine["logical_cpus"],
        machine["threads"],
        machine["gan_rs"].as_str().unwrap_or("?"),
        machine["torch"].as_str().unwrap_or("not measured"),
    );
    out.push_str("| preset | batch | gan-rs steps/s | PyTorch steps/s | gan-rs ÷ PyTorch | gan-rs with BLAS steps/s | BLAS GEMM ceiling steps/s | share of it | fastest-GEMM ceiling steps/s | share of it | generation images/s | peak RSS |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for row in rows {
        let ours = &row["gan_rs"];
        let rate = number(&ours["steps_per_second"]);
        let torch = number(&row["pytorch"]["steps_per_second"]);
        let blas_ceiling = 1.0 / number(&ours["step_gemm_blas_seconds"]);
        let best_ceiling = 1.0 / number(&ours["step_gemm_ceiling_seconds"]);
        out.push_str(&format!(
            "| {} | {} | {:.1} | {:.1} | {:.2}× | {:.1} | {:.1} | {:.0}% | {:.1} | {:.0}% | {:.0} | {:.0} MB |\n",
            ours["preset"].as_str().unwrap_or("?"),
            ours["batch_size"],
            rate,
            torch,
            rate / torch,
            number(&row["gan_rs_blas"]["steps_per_second"]),
            blas_ceiling,
            100.0 * rate / blas_ceiling,
            best_ceiling,
            100.0 * rate / best_ceiling,
            number(&ours["generation_images_per_second"]),
            number(&ours["peak_rss_bytes"]) / 1e6,
        ));
    }
    let load = rows
        .iter()
        .map(|r| number(&r["gan_rs"]["mnist_load_seconds"]))
        .fold(f64::INFINITY, f64::min);
    let mut fused: Vec<&str> = rows
        .iter()
        .filter(|r| r["gan_rs"]["backprop"] == "fused")
        .filter_map(|r| r["gan_rs"]["preset"].as_str())
        .collect();
    fused.dedup();
    let backprop = if fused.is_empty() {
        "autograd for every preset".to_owned()
    } else {
        format!(
            "by hand, with fused passes (`--backprop fused`), for {}; autograd for the rest",
            fused.join(", ")
        )
    };
    out.push_str(&format!(
        "\ngan-rs multiplies with {} (`--matmul auto`) and forms gradients {backprop}. Full MNIST load (70,000 images, gzipped, validated): {:.0} ms. GEMM ceilings: the step's matrix products ({:.2} GFLOP at batch 128) timed alone at the same shapes, with libtorch's BLAS (what `torch.mm` uses), and with the fastest for each product of BLAS, oneDNN's dense layer (`mkldnn_linear`) and oneDNN's product on plain tensors (`mkldnn::_linear_pointwise`, in the operand layouts the fused MLP steps use).\n",
        matmul_choices(rows),
        load * 1e3,
        rows.iter()
            .find(|r| r["gan_rs"]["batch_size"] == 128)
            .map_or(f64::NAN, |r| number(&r["gan_rs"]["step_gemm_flops"]) / 1e9)
    ));
    out
}

/// The kernel `--matmul auto` chose: the one most rows ran, and the rows that ran another
/// (it measures each run's own shapes, so one table can hold both).
fn matmul_choices(rows: &[Value]) -> String {
    let kernel = |r: &Value| match r["gan_rs"]["matmul"].as_str() {
        Some("onednn") => "oneDNN",
        Some(_) => "BLAS",
        None => "?",
    };
    // Each kernel in order of first appearance, with the rows that ran it.
    let mut chosen: Vec<(&str, Vec<String>)> = Vec::new();
    for row in rows {
        let label = format!(
            "{} at batch {}",
            row["gan_rs"]["preset"].as_str().unwrap_or("?"),
            row["gan_rs"]["batch_size"]
        );
        match chosen.iter_mut().find(|(k, _)| *k == kernel(row)) {
            Some((_, labels)) => labels.push(label),
            None => chosen.push((kernel(row), vec![label])),
        }
    }
    let Some(most) = chosen.iter().map(|(_, l)| l.len()).max() else {
        return "?".to_owned();
    };
    let main = chosen
        .iter()
        .position(|(_, l)| l.len() == most)
        .expect("the max");
    let (kernel, _) = chosen.remove(main);
    let others: Vec<String> = chosen
        .iter()
        .map(|(k, labels)| format!("{k} for {}", labels.join(" and ")))
        .collect();
    if others.is_empty() {
        kernel.to_owned()
    } else {
        format!("{kernel}, and {}", others.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_read_from_gan_presets_json() {
        let line = json!({
            "name": "cgan", "family": "gan",
            "reference": { "script": "bench/reference/torch_mlp_gan.py",
                           "images_per_repeat": 12800, "batches": [128] }
        });
        let preset = preset_of(&line).unwrap();
        assert_eq!(preset.name, "cgan");
        assert_eq!(preset.reference.batches, Some(vec![128]));
        let sweep = json!({ "name": "mlp", "reference": { "script": "s.py",
                            "images_per_repeat": 1, "batches": null } });
        assert_eq!(preset_of(&sweep).unwrap().reference.batches, None);
        let err = preset_of(&json!({ "name": "x" })).unwrap_err().to_string();
        assert!(err.contains("without a name or a reference"), "{err}");
    }

    #[test]
    fn table_rows_carry_ratios_and_both_ceiling_shares() {
        let ours = json!({
            "preset": "mlp", "batch_size": 128, "matmul": "onednn",
            "steps_per_second": 80.0, "generation_images_per_second": 1000.0,
            "peak_rss_bytes": 1.2e9, "mnist_load_seconds": 0.09,
            "step_gemm_flops": 2.4e9,
            "step_gemm_blas_seconds": 0.0125, "step_gemm_ceiling_seconds": 0.00625,
        });
        let rows = vec![json!({
            "gan_rs": ours,
            "gan_rs_blas": { "steps_per_second": 60.0 },
            "pytorch": { "steps_per_second": 40.0, "torch": "2.11.0" },
        })];
        let machine = json!({ "cpu": "Test CPU", "logical_cpus": 2, "threads": 2,
                              "gan_rs": "0.1.0", "torch": "2.11.0" });
        let table = markdown(&machine, &rows);
        assert!(
            table.contains("| mlp | 128 | 80.0 | 40.0 | 2.00× | 60.0 | 80.0 | 100% | 160.0 | 50% | 1000 | 1200 MB |"),
            "{table}"
        );
        assert!(
            table.contains("multiplies with oneDNN") && table.contains("90 ms"),
            "{table}"
        );
    }

    #[test]
    fn footnote_names_the_rows_that_chose_the_other_kernel() {
        let row = |preset: &str, batch: u32, matmul: &str| json!({ "gan_rs": { "preset": preset, "batch_size": batch, "matmul": matmul } });
        let mixed = [
            row("mlp", 128, "onednn"),
            row("vae-binarized", 100, "blas"),
            row("vae", 128, "onednn"),
        ];
        assert_eq!(
            matmul_choices(&mixed),
            "oneDNN, and BLAS for vae-binarized at batch 100"
        );
        assert_eq!(matmul_choices(&mixed[..1]), "oneDNN");
        assert_eq!(matmul_choices(&[]), "?");
    }
}
