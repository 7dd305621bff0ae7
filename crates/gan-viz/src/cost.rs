//! A score against what it cost, on a logarithmic cost axis: a diffusion model's FID at
//! each number of network evaluations per image, one marked line per model.

use std::path::Path;

use plotters::prelude::*;

use crate::chart::Curve;
use crate::error::VizError;
use crate::font::ensure_registered;
use crate::raster::with_temp;

/// Draws `curves` (x: the cost, positive; y: the score) into a PNG of `size` pixels, the
/// x axis logarithmic and labelled `x_label`, each point marked and labelled by its x.
pub fn save_cost_chart(
    path: &Path,
    title: &str,
    axes: (&str, &str),
    curves: &[Curve],
    size: (u32, u32),
) -> Result<(), VizError> {
    let points = curves.iter().flat_map(|c| c.points.iter());
    let usable = |&&(x, y): &&(f64, f64)| x > 0.0 && x.is_finite() && y.is_finite();
    if curves.is_empty() || points.clone().any(|p| !usable(&p)) {
        return Err(VizError::Invalid(
            "a cost chart needs curves of positive, finite costs and finite scores".into(),
        ));
    }
    ensure_registered();
    with_temp(path, |tmp| {
        let root = BitMapBackend::new(tmp, size).into_drawing_area();
        draw(&root, title, axes, curves).map_err(|e| VizError::draw(path, e))
    })
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    (x_label, y_label): (&str, &str),
    curves: &[Curve],
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let all = || curves.iter().flat_map(|c| c.points.iter().copied());
    let x0 = all().map(|p| p.0).fold(f64::MAX, f64::min);
    let x1 = all().map(|p| p.0).fold(f64::MIN, f64::max).max(x0 * 2.0);
    let y1 = all().map(|p| p.1).fold(0.0, f64::max).max(1e-3);
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .margin_right(30)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x0 / 1.3..x1 * 1.3).log_scale(), 0.0..y1 * 1.08)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, curve) in curves.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                curve.points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(curve.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart.draw_series(
            curve
                .points
                .iter()
                .map(|&p| Circle::new(p, 4, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

const PALETTE: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cost_chart_is_drawn_and_bad_points_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cost.png");
        let curve = Curve::new("flow", vec![(1.0, 600.0), (3.0, 190.0), (49.0, 18.0)]);
        save_cost_chart(&path, "FID", ("evaluations", "FID"), &[curve], (640, 400)).unwrap();
        let picture = crate::Rgb::load_png(&path).unwrap();
        assert_eq!((picture.width, picture.height), (640, 400));
        let zero = Curve::new("bad", vec![(0.0, 1.0)]);
        let bad = dir.path().join("bad.png");
        assert!(save_cost_chart(&bad, "x", ("a", "b"), &[zero], (64, 64)).is_err());
        assert!(!bad.exists());
    }
}
