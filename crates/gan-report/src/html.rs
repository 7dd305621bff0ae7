//! The pieces of a self-contained page: escaping, images inlined as data URIs, tables, a bar
//! chart, and the document around them (one stylesheet, no script, nothing fetched).

use std::fmt::Write;
use std::path::Path;

use base64::Engine;

use crate::error::ReportError;

/// `text` safe inside an element or a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An `<img>` of the PNG at `path`, its bytes inside the page, every `shrink`-th pixel (a
/// sample grid is drawn at 4× its images' size; the page scales it back up, sharply).
pub fn png_img(path: &Path, alt: &str, class: &str, shrink: u32) -> Result<String, ReportError> {
    let bytes = gan_viz::Rgb::load_png(path)?.to_png_bytes(shrink)?;
    Ok(format!(
        r#"<img class="{class}" alt="{}" src="data:image/png;base64,{}">"#,
        escape(alt),
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// An SVG document as an element of the page (its XML prologue dropped).
pub fn inline_svg(svg: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    format!(r#"<div class="chart">{}</div>"#, &svg[start..])
}

/// A table with a header row (none for an empty `header`); cells are escaped.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<div class=\"wide\"><table>");
    if !header.is_empty() {
        out.push_str("<thead><tr>");
        for h in header {
            let _ = write!(out, "<th>{}</th>", escape(h));
        }
        out.push_str("</tr></thead>");
    }
    out.push_str("<tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// A bar per value, labelled below, as inline SVG; bars under `warn_below` of the total are
/// drawn in red.
pub fn bar_chart(title: &str, labels: &[String], values: &[f64], warn_below: f64) -> String {
    let (width, height, top, bottom, left) = (520.0, 240.0, 30.0, 30.0, 40.0);
    let total: f64 = values.iter().sum::<f64>().max(1e-12);
    let max = values.iter().copied().fold(0.0, f64::max).max(1e-12);
    let slot = (width - left - 10.0) / values.len().max(1) as f64;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img"><title>{}</title><text x="{}" y="18" text-anchor="middle" font-size="14" font-family="sans-serif">{}</text>"#,
        escape(title),
        width / 2.0,
        escape(title)
    );
    let plot = height - top - bottom;
    for (i, (label, &value)) in labels.iter().zip(values).enumerate() {
        let h = plot * value / max;
        let x = left + i as f64 * slot + slot * 0.15;
        let y = top + plot - h;
        let color = if value / total < warn_below {
            "#d62728"
        } else {
            "#1f77b4"
        };
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{color}"><title>{}: {:.1}%</title></rect><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12" font-family="sans-serif">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10" font-family="sans-serif">{:.1}%</text>"#,
            slot * 0.7,
            escape(label),
            100.0 * value / total,
            x + slot * 0.35,
            height - 10.0,
            escape(label),
            x + slot * 0.35,
            (y - 3.0).max(top - 2.0),
            100.0 * value / total,
        );
    }
    svg.push_str("</svg>");
    svg
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1400px;\
color:#222;padding:0 16px}h1{font-size:1.6em;margin-bottom:0}h2{border-bottom:1px solid #ddd;\
padding-bottom:4px;margin-top:32px}.sub{color:#666;margin-top:4px}table{border-collapse:collapse;\
margin:8px 0}th,td{border:1px solid #ccc;padding:4px 10px;text-align:right;white-space:nowrap}\
.wide{overflow-x:auto}th{background:#f4f4f4}\
td:first-child,th:first-child{text-align:left}.warn{background:#fff4e5;border-left:4px solid #e67e22;\
padding:8px 14px;margin:8px 0}.note{background:#eef4fb;border-left:4px solid #3b82c4;padding:8px 14px;\
margin:8px 0}.large{image-rendering:pixelated;width:400px;max-width:100%}.figure{width:560px;max-width:100%}.timeline{display:flex;flex-wrap:wrap;\
gap:10px}.timeline figure{margin:0;text-align:center;font-size:.85em;color:#555}.thumb{width:150px;\
image-rendering:pixelated}.chart svg{max-width:100%;height:auto}pre{background:#f7f7f7;padding:10px;\
overflow-x:auto;font-size:.85em}.grids{display:flex;flex-wrap:wrap;gap:16px}.grids figure{margin:0;\
text-align:center}";

/// A complete HTML document around `body`.
pub fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\
<title>{}</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn bars_under_the_threshold_are_red() {
        let labels: Vec<String> = (0..3).map(|d| d.to_string()).collect();
        let svg = bar_chart("digits", &labels, &[50.0, 49.0, 1.0], 0.02);
        assert_eq!(svg.matches("#d62728").count(), 1);
        assert_eq!(svg.matches("<rect").count(), 3);
    }

    #[test]
    fn a_document_fetches_nothing() {
        let page = document("t<", "<p>x</p>");
        assert!(page.contains("<title>t&lt;</title>"));
        assert!(page.contains("default-src 'none'"));
    }
}
