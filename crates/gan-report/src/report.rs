//! `report.html`: one run on one page. The page is rewritten at sample intervals (at most
//! once a minute) while a run trains (reload to watch it), at its end, and on demand by `gan
//! report`.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use gan_eval::EvalReport;
use gan_training::run_dir::REPORT_FILE;

use crate::error::ReportError;
use crate::html::{bar_chart, document, escape, inline_svg, png_img, table};
use crate::record::RunRecord;
use crate::warnings::{self, COLLAPSE_SHARE};

/// At most this many grids in the timeline (evenly spread, always with the last).
pub const TIMELINE_GRIDS: usize = 12;

/// Reads the run at `root` and writes its `report.html` there (atomically); returns its path.
pub fn write_report(root: &Path) -> Result<PathBuf, ReportError> {
    let record = RunRecord::read(root)?;
    let page = render(&record)?;
    let path = root.join(REPORT_FILE);
    gan_training::write_atomic(&path, page.as_bytes())?;
    Ok(path)
}

/// The page of `record`.
pub fn render(record: &RunRecord) -> Result<String, ReportError> {
    let mut body = String::new();
    header(record, &mut body);
    findings(record, &mut body);
    evaluation(record, &mut body);
    pictures(record, &mut body)?;
    family_pictures(record, &mut body)?;
    curves(record, &mut body)?;
    timeline(record, &mut body)?;
    history(record, &mut body);
    if let Some(text) = &record.config_text {
        let _ = write!(body, "<h2>Config</h2><pre>{}</pre>", escape(text));
    }
    Ok(document(&format!("gan-rs run {}", record.name), &body))
}

fn header(record: &RunRecord, body: &mut String) {
    let family = record.config.as_ref().map_or("?", |c| c.model.name());
    let _ = write!(
        body,
        "<h1>Run {}</h1><p class=\"sub\">preset <b>{}</b> · {} family{}</p>",
        escape(&record.name),
        escape(record.preset()),
        escape(family),
        record
            .preset_description
            .as_ref()
            .map_or(String::new(), |d| format!(" · {}", escape(d)))
    );
    let mut rows = Vec::new();
    if let Some(steps) = record.steps() {
        let planned = record
            .config
            .as_ref()
            .filter(|c| c.minutes.is_none())
            .map_or(String::new(), |c| format!(" of {}", c.steps));
        rows.push(vec!["steps".into(), format!("{steps}{planned}")]);
    }
    if let Some(c) = &record.config {
        if let Some(minutes) = c.minutes {
            rows.push(vec!["time budget".into(), format!("{minutes} min")]);
        }
    }
    if let Some(s) = record.wall_seconds() {
        rows.push(vec!["training time".into(), format!("{s:.1} s")]);
    }
    if let Some(rate) = record.steps_per_second() {
        rows.push(vec!["steps per second".into(), format!("{rate:.1}")]);
    }
    if let Some(c) = &record.config {
        rows.push(vec!["batch size".into(), c.batch_size.to_string()]);
        rows.push(vec!["seed".into(), c.seed.to_string()]);
        rows.push(vec![
            "device".into(),
            format!("{:?}", c.device).to_lowercase(),
        ]);
    }
    if let Some(last) = record.history.last() {
        rows.push(vec![
            "state".into(),
            format!("{:?} at step {}", last.event, last.step).to_lowercase(),
        ]);
    }
    body.push_str(&table(&[], &rows));
}

fn findings(record: &RunRecord, body: &mut String) {
    for w in warnings::find(record) {
        let _ = write!(
            body,
            "<div class=\"warn\"><b>{}</b>: {}</div>",
            escape(w.title),
            escape(&w.detail)
        );
    }
    if !record.notes.is_empty() {
        body.push_str("<div class=\"note\"><b>Missing or unreadable</b><ul>");
        for note in &record.notes {
            let _ = write!(body, "<li>{}</li>", escape(note));
        }
        body.push_str("</ul></div>");
    }
}

fn eval_row(name: String, r: &EvalReport, labelled: bool) -> Vec<String> {
    let mut row = vec![
        name,
        format!("{:.3}", r.frechet_distance),
        format!("{:.3}", r.inception_score),
        format!("{}/10", r.coverage.modes),
        format!("{:.3}", r.precision),
        format!("{:.3}", r.recall),
    ];
    if labelled {
        row.push(r.labels.as_ref().map_or("—".into(), |l| {
            format!("{:.2}%", 100.0 * l.label_accuracy)
        }));
    }
    row
}

const EVAL_HEADER: [&str; 7] = [
    "images",
    "FID (LeNet) ↓",
    "IS ↑",
    "digits ≥5%",
    "precision ↑",
    "recall ↑",
    "label accuracy ↑",
];

fn evaluation(record: &RunRecord, body: &mut String) {
    body.push_str("<h2>Evaluation</h2>");
    if let Some(e) = &record.evaluation {
        let labelled = e.report.labels.is_some();
        let mut rows = vec![eval_row(
            format!(
                "this run: step {}, {} weights, {} samples, seed {}",
                e.step, e.weights, e.report.samples, e.seed
            ),
            &e.report,
            labelled,
        )];
        if let Some(floor) = &e.floor {
            rows.push(eval_row(
                "floor: MNIST training images".into(),
                floor,
                labelled,
            ));
        }
        if let Some(ceiling) = &e.ceiling {
            rows.push(eval_row("ceiling: uniform noise".into(), ceiling, labelled));
        }
        let header = &EVAL_HEADER[..if labelled { 7 } else { 6 }];
        body.push_str(&table(header, &rows));
        per_digit(e, body);
        if let Some(l) = &e.likelihood {
            let _ = write!(
                body,
                "<p>test ELBO {:.3} nats, test NLL {:.3} nats (k = {}), {:.4} bits/dim</p>",
                l.elbo,
                l.negative_log_likelihood(),
                l.importance_samples,
                l.bits_per_dim()
            );
        }
        let _ = write!(
            body,
            "<p class=\"sub\">From <code>eval.json</code>: the evaluation that ended <code>gan train</code>, or the latest <code>gan eval --checkpoint {}</code>.</p>",
            escape(&record.root.display().to_string())
        );
        return;
    }
    match record.headline() {
        Some(h) => {
            let labelled = h.label_accuracy.is_some();
            let mut row = vec![
                format!("step {}, {} samples, during training", h.step, h.samples),
                format!("{:.3}", h.fid),
                format!("{:.3}", h.inception_score),
                format!("{}/10", h.modes),
                format!("{:.3}", h.precision),
                format!("{:.3}", h.recall),
            ];
            if let Some(a) = h.label_accuracy {
                row.push(format!("{:.2}%", 100.0 * a));
            }
            body.push_str(&table(&EVAL_HEADER[..if labelled { 7 } else { 6 }], &[row]));
        }
        None => body.push_str("<p>Not evaluated yet.</p>"),
    }
    let _ = write!(
        body,
        "<p class=\"sub\">For the evaluation protocol (10,000 samples, with the floor and \
         ceiling beside them) run <code>gan eval --checkpoint {}</code>, then <code>gan report</code>.</p>",
        escape(&record.root.display().to_string())
    );
}

fn pictures(record: &RunRecord, body: &mut String) -> Result<(), ReportError> {
    let latest = record.samples.last();
    let histogram = record
        .evaluation
        .as_ref()
        .map(|e| &e.report.coverage.histogram);
    if latest.is_none() && histogram.is_none() {
        return Ok(());
    }
    body.push_str("<h2>Samples</h2><div class=\"grids\">");
    if let Some((step, path)) = latest {
        let _ = write!(
            body,
            "<figure>{}<figcaption>latest grid, step {step} (fixed noise)</figcaption></figure>",
            png_img(path, &format!("samples at step {step}"), "large", 2)?
        );
    }
    if let Some(histogram) = histogram {
        let labels: Vec<String> = (0..histogram.len()).map(|d| d.to_string()).collect();
        let values: Vec<f64> = histogram.iter().map(|&n| n as f64).collect();
        let chart = bar_chart(
            "digits the classifier sees in the samples",
            &labels,
            &values,
            COLLAPSE_SHARE,
        );
        let _ = write!(
            body,
            "<figure>{}<figcaption>mode histogram (red: under {:.0}%)</figcaption></figure>",
            inline_svg(&chart),
            100.0 * COLLAPSE_SHARE
        );
    }
    body.push_str("</div>");
    Ok(())
}

fn family_pictures(record: &RunRecord, body: &mut String) -> Result<(), ReportError> {
    if record.figures.is_empty() {
        return Ok(());
    }
    body.push_str("<h2>What the model learned</h2><div class=\"grids\">");
    for (i, (caption, path)) in record.figures.iter().enumerate() {
        let first = i == 0 && path.ends_with(gan_training::run_dir::RECONSTRUCTIONS_FILE);
        let _ = write!(
            body,
            "<figure>{}<figcaption>{}</figcaption></figure>",
            // The reconstructions are drawn at 4× like the grids; the others at their size.
            png_img(path, caption, "figure", if first { 2 } else { 1 })?,
            escape(caption)
        );
    }
    body.push_str("</div>");
    Ok(())
}

/// Label accuracy and FID of each digit, beside those of real digits, for a conditional
/// model's evaluation.
fn per_digit(e: &gan_training::SavedEvaluation, body: &mut String) {
    let Some(labels) = &e.report.labels else {
        return;
    };
    let floor = e.floor.as_ref().and_then(|f| f.labels.as_ref());
    let fid = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.2}"));
    let rows: Vec<Vec<String>> = labels
        .classes
        .iter()
        .map(|c| {
            let real = floor.and_then(|f| f.classes.iter().find(|r| r.digit == c.digit));
            vec![
                c.digit.to_string(),
                c.samples.to_string(),
                format!("{:.2}%", 100.0 * c.label_accuracy),
                fid(c.frechet_distance),
                real.map_or("—".to_owned(), |r| {
                    format!("{:.2}%", 100.0 * r.label_accuracy)
                }),
                fid(real.and_then(|r| r.frechet_distance)),
            ]
        })
        .collect();
    body.push_str("<h3>Per digit</h3>");
    body.push_str(&table(
        &[
            "digit",
            "samples",
            "label accuracy",
            "FID (LeNet)",
            "real digits: accuracy",
            "real digits: FID",
        ],
        &rows,
    ));
}

fn curves(record: &RunRecord, body: &mut String) -> Result<(), ReportError> {
    let Some(table) = record.metrics.as_ref().filter(|t| !t.rows.is_empty()) else {
        return Ok(());
    };
    let metrics = record.config.as_ref().map(|c| c.model.metrics());
    let panels = crate::chart_panels(table, metrics);
    let height = 260 * panels.len() as u32;
    let smoothing = (table.rows.len() / 50).max(1);
    let svg = gan_viz::chart_svg("training curves", &panels, (1000, height), smoothing)?;
    body.push_str("<h2>Curves</h2>");
    body.push_str(&inline_svg(&svg));
    Ok(())
}

/// Up to `count` of `n` indices, evenly spread, always with the last.
fn spread(n: usize, count: usize) -> Vec<usize> {
    if n <= count {
        return (0..n).collect();
    }
    let mut picked: Vec<usize> = (0..count).map(|i| (i * (n - 1)) / (count - 1)).collect();
    picked.dedup();
    picked
}

fn timeline(record: &RunRecord, body: &mut String) -> Result<(), ReportError> {
    if record.samples.len() < 2 {
        return Ok(());
    }
    body.push_str("<h2>Grid timeline</h2><div class=\"timeline\">");
    for i in spread(record.samples.len(), TIMELINE_GRIDS) {
        let (step, path) = &record.samples[i];
        let _ = write!(
            body,
            "<figure>{}<figcaption>step {step}</figcaption></figure>",
            png_img(path, &format!("step {step}"), "thumb", 4)?
        );
    }
    body.push_str("</div>");
    Ok(())
}

fn history(record: &RunRecord, body: &mut String) {
    if record.history.is_empty() {
        return;
    }
    body.push_str("<h2>History</h2><ul>");
    for e in &record.history {
        let detail = if e.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", escape(&e.detail))
        };
        let _ = write!(
            body,
            "<li>{} at step {} ({}){detail}</li>",
            format!("{:?}", e.event).to_lowercase(),
            e.step,
            utc(e.unix_time)
        );
    }
    body.push_str("</ul>");
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM UTC`.
fn utc(unix_time: f64) -> String {
    let secs = unix_time.max(0.0) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_picks_spread_indices_with_the_last() {
        assert_eq!(spread(5, 12), vec![0, 1, 2, 3, 4]);
        let picked = spread(100, 12);
        assert_eq!(
            (picked.len(), picked[0], *picked.last().unwrap()),
            (12, 0, 99)
        );
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc(0.0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_795_996_800.0 + 3_660.0), "2026-11-30 01:01 UTC");
    }

    #[test]
    fn an_empty_run_gives_a_page_of_notes() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_report(dir.path()).unwrap();
        let page = std::fs::read_to_string(path).unwrap();
        assert!(page.contains("Not evaluated yet"));
        assert!(page.contains("no metrics.csv yet"));
        assert!(!page.contains("<script"));
    }
}
