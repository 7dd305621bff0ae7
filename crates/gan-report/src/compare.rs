//! Runs side by side: preset, steps, time and the headline numbers, as a terminal table,
//! Markdown, JSON or a page with the final grids and each metric's curves overlaid.

use std::fmt::Write;

use serde::Serialize;

use crate::error::ReportError;
use crate::html::{document, escape, inline_svg, png_img, table};
use crate::record::RunRecord;

/// One row of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparedRun {
    pub run: String,
    pub preset: String,
    pub steps: Option<u64>,
    pub wall_seconds: Option<f64>,
    /// Step of the evaluation the numbers come from.
    pub evaluated_step: Option<u64>,
    pub samples: Option<usize>,
    pub fid: Option<f64>,
    pub inception_score: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub label_accuracy: Option<f64>,
    /// Sampling cost of the evaluation in `eval.json` (absent from older ones).
    pub evaluations_per_image: Option<u32>,
    pub images_per_second: Option<f64>,
    /// "gan eval", "during training" or "not evaluated".
    pub source: String,
}

/// Several runs, read once.
pub struct Comparison {
    pub records: Vec<RunRecord>,
}

fn cell<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map_or("—".into(), show)
}

impl Comparison {
    pub fn read(roots: &[std::path::PathBuf]) -> Result<Comparison, ReportError> {
        let records = roots
            .iter()
            .map(|r| RunRecord::read(r))
            .collect::<Result<_, _>>()?;
        Ok(Comparison { records })
    }

    pub fn rows(&self) -> Vec<ComparedRun> {
        self.records
            .iter()
            .map(|r| {
                let h = r.headline();
                let cost = r.evaluation.as_ref().and_then(|e| e.sampling);
                ComparedRun {
                    run: r.root.display().to_string(),
                    preset: r.preset().to_owned(),
                    steps: r.steps(),
                    wall_seconds: r.wall_seconds(),
                    evaluated_step: h.as_ref().map(|h| h.step),
                    samples: h.as_ref().map(|h| h.samples),
                    fid: h.as_ref().map(|h| h.fid),
                    inception_score: h.as_ref().map(|h| h.inception_score),
                    precision: h.as_ref().map(|h| h.precision),
                    recall: h.as_ref().map(|h| h.recall),
                    label_accuracy: h.as_ref().and_then(|h| h.label_accuracy),
                    evaluations_per_image: cost.map(|c| c.evaluations_per_image),
                    images_per_second: cost.map(|c| c.images_per_second),
                    source: h.map_or("not evaluated".into(), |h| h.source.into()),
                }
            })
            .collect()
    }

    fn has_labels(rows: &[ComparedRun]) -> bool {
        rows.iter().any(|r| r.label_accuracy.is_some())
    }

    /// Header and cells, formatted as the results tables of docs/results.md.
    fn cells(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let rows = self.rows();
        let labels = Self::has_labels(&rows);
        let mut header = vec![
            "run",
            "preset",
            "steps",
            "wall time",
            "FID (LeNet) ↓",
            "IS ↑",
            "precision",
            "recall ↑",
            "evaluations / image",
            "images/s",
        ];
        if labels {
            header.push("label accuracy ↑");
        }
        header.push("scored");
        let cells = rows
            .iter()
            .map(|r| {
                let mut row = vec![
                    r.run.clone(),
                    r.preset.clone(),
                    cell(r.steps, thousands),
                    cell(r.wall_seconds, |s| format!("{s:.1} s")),
                    cell(r.fid, |v| format!("{v:.3}")),
                    cell(r.inception_score, |v| format!("{v:.3}")),
                    cell(r.precision, |v| format!("{v:.3}")),
                    cell(r.recall, |v| format!("{v:.3}")),
                    cell(r.evaluations_per_image, |v| v.to_string()),
                    cell(r.images_per_second, |v| format!("{v:.0}")),
                ];
                if labels {
                    row.push(cell(r.label_accuracy, |a| format!("{:.2}%", 100.0 * a)));
                }
                row.push(match (r.evaluated_step, r.samples) {
                    (Some(step), Some(n)) if Some(step) == r.steps => {
                        format!("{} ({} images)", r.source, thousands(n as u64))
                    }
                    (Some(step), Some(n)) => format!(
                        "{} at step {} ({} images)",
                        r.source,
                        thousands(step),
                        thousands(n as u64)
                    ),
                    _ => r.source.clone(),
                });
                row
            })
            .collect();
        (header, cells)
    }

    /// Aligned columns for a terminal.
    pub fn to_text(&self) -> String {
        let (header, rows) = self.cells();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: Vec<String>| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        };
        let mut out = line(header.iter().map(|h| h.to_string()).collect());
        out.push('\n');
        for row in rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }

    /// A GitHub-flavoured Markdown table.
    pub fn to_markdown(&self) -> String {
        let (header, rows) = self.cells();
        let mut out = format!("| {} |\n", header.join(" | "));
        out.push_str(&format!("|{}\n", " --- |".repeat(header.len())));
        for row in rows {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.rows()).expect("rows serialize")
    }

    /// A self-contained page: the table, every run's final grid, and one chart per metric
    /// with a curve per run.
    pub fn to_html(&self) -> Result<String, ReportError> {
        let (header, rows) = self.cells();
        let mut body = format!(
            "<h1>Comparison of {} runs</h1>{}",
            self.records.len(),
            table(&header, &rows)
        );
        body.push_str("<h2>Final grids</h2><div class=\"grids\">");
        for r in &self.records {
            let _ = write!(body, "<figure>");
            match r.samples.last() {
                Some((step, path)) => body.push_str(&png_img(
                    path,
                    &format!("{} at step {step}", r.name),
                    "thumb",
                    4,
                )?),
                None => body.push_str("<p>no grid yet</p>"),
            }
            let _ = write!(
                body,
                "<figcaption>{}</figcaption></figure>",
                escape(&r.name)
            );
        }
        body.push_str("</div><h2>Curves</h2>");
        for panel in self.overlaid_panels() {
            let smoothing = panel
                .curves
                .iter()
                .map(|c| c.points.len() / 50)
                .max()
                .unwrap_or(1)
                .max(1);
            let svg = gan_viz::chart_svg(
                &panel.y_label,
                std::slice::from_ref(&panel),
                (1000, 320),
                smoothing,
            )?;
            body.push_str(&inline_svg(&svg));
        }
        Ok(document("gan-rs: run comparison", &body))
    }

    /// For each curve name any run has, one panel with that curve of every run.
    fn overlaid_panels(&self) -> Vec<gan_viz::Panel> {
        let mut panels: Vec<gan_viz::Panel> = Vec::new();
        for r in &self.records {
            let Some(table) = &r.metrics else { continue };
            let metrics = r.config.as_ref().map(|c| c.model.metrics());
            for panel in crate::chart_panels(table, metrics) {
                for curve in panel.curves {
                    let title = curve.label.clone();
                    let curve = gan_viz::Curve::new(r.name.clone(), curve.points);
                    match panels.iter_mut().find(|p| p.y_label == title) {
                        Some(p) => p.curves.push(curve),
                        None => panels.push(gan_viz::Panel {
                            y_label: title,
                            curves: vec![curve],
                        }),
                    }
                }
            }
        }
        panels
    }
}

/// 24248 → "24,248".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(24_248), "24,248");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn runs_without_numbers_still_compare() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let c = Comparison::read(&[a.path().to_owned(), b.path().to_owned()]).unwrap();
        let text = c.to_text();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.contains("not evaluated"));
        let md = c.to_markdown();
        assert!(md.lines().nth(1).unwrap().starts_with("| --- |"));
        let json: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2);
        assert!(c.to_html().unwrap().contains("no grid yet"));
    }
}
