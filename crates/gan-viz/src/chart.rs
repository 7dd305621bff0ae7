//! Line charts of training curves, stacked in panels that share the step axis.

use std::path::Path;

use plotters::prelude::*;

use crate::error::VizError;
use crate::font::ensure_registered;
use crate::raster::with_temp;

/// One named curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

impl Curve {
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Curve {
        Curve {
            label: label.into(),
            points,
        }
    }

    /// A moving average over `window` points (the curve itself for a window of 1).
    pub fn smoothed(&self, window: usize) -> Curve {
        let window = window.max(1);
        let mut sum = 0.0;
        let mut points = Vec::with_capacity(self.points.len());
        for (i, &(x, y)) in self.points.iter().enumerate() {
            sum += y;
            if i >= window {
                sum -= self.points[i - window].1;
            }
            points.push((x, sum / (i + 1).min(window) as f64));
        }
        Curve {
            label: self.label.clone(),
            points,
        }
    }
}

/// A panel: a y-axis label and its curves.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub y_label: String,
    pub curves: Vec<Curve>,
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

/// Draws `panels` stacked vertically under `title` into a PNG of `size` pixels. Each curve is
/// drawn faintly as recorded and strongly as a moving average over `smoothing` points (at most
/// a tenth of the curve's points).
pub fn save_chart(
    path: &Path,
    title: &str,
    panels: &[Panel],
    size: (u32, u32),
    smoothing: usize,
) -> Result<(), VizError> {
    if panels.is_empty() {
        return Err(VizError::Invalid("a chart needs at least one panel".into()));
    }
    ensure_registered();
    with_temp(path, |tmp| {
        let root = BitMapBackend::new(tmp, size).into_drawing_area();
        draw_chart(&root, title, panels, smoothing, None).map_err(|e| VizError::draw(path, e))
    })
}

/// The chart of [`save_chart`] as an SVG document (text stays sharp at any zoom; for pages).
pub fn chart_svg(
    title: &str,
    panels: &[Panel],
    size: (u32, u32),
    smoothing: usize,
) -> Result<String, VizError> {
    if panels.is_empty() {
        return Err(VizError::Invalid("a chart needs at least one panel".into()));
    }
    ensure_registered();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw_chart(&root, title, panels, smoothing, Some(SVG_POINTS))
            .map_err(|e| VizError::draw(std::path::Path::new("<svg chart>"), e))?;
    }
    Ok(svg)
}

/// Points per drawn line in an SVG chart: every point of a long run would make pages of
/// megabytes for no visible difference.
const SVG_POINTS: usize = 1_000;

fn draw_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    panels: &[Panel],
    smoothing: usize,
    max_points: Option<usize>,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let titled = root.titled(title, ("sans-serif", 22))?;
    let areas = titled.split_evenly((panels.len(), 1));
    for (area, panel) in areas.iter().zip(panels) {
        draw_panel(area, panel, smoothing, max_points)?;
    }
    root.present()?;
    Ok(())
}

/// At most `max` of `points`: the lowest and the highest of each run of neighbours, so that
/// spikes survive.
fn decimate(points: Vec<(f64, f64)>, max: Option<usize>) -> Vec<(f64, f64)> {
    let Some(max) = max.filter(|&m| points.len() > m.max(2)) else {
        return points;
    };
    let bucket = points.len().div_ceil(max / 2);
    let mut out = Vec::with_capacity(max);
    for chunk in points.chunks(bucket) {
        let by_y = |a: &&(f64, f64), b: &&(f64, f64)| a.1.total_cmp(&b.1);
        let low = chunk.iter().min_by(by_y).expect("chunks are not empty");
        let high = chunk.iter().max_by(by_y).expect("chunks are not empty");
        let (first, second) = if low.0 <= high.0 {
            (low, high)
        } else {
            (high, low)
        };
        out.push(*first);
        if second != first {
            out.push(*second);
        }
    }
    out
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &Panel,
    smoothing: usize,
    max_points: Option<usize>,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let finite = |v: f64| v.is_finite();
    let all = panel
        .curves
        .iter()
        .flat_map(|c| c.points.iter())
        .filter(|(x, y)| finite(*x) && finite(*y));
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .margin_right(30)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(panel.y_label.as_str())
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, curve) in panel.curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(f64, f64)> = curve
            .points
            .iter()
            .copied()
            .filter(|(x, y)| finite(*x) && finite(*y))
            .collect();
        chart.draw_series(LineSeries::new(
            decimate(points, max_points),
            color.mix(0.25),
        ))?;
        // Sparse curves (an evaluation every few thousand steps) are drawn as recorded.
        let window = smoothing.min(curve.points.len() / 10).max(1);
        let smooth: Vec<(f64, f64)> = curve
            .smoothed(window)
            .points
            .into_iter()
            .filter(|(x, y)| finite(*x) && finite(*y))
            .collect();
        chart
            .draw_series(LineSeries::new(
                decimate(smooth, max_points),
                color.stroke_width(2),
            ))?
            .label(curve.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average() {
        let c = Curve::new("x", vec![(0.0, 1.0), (1.0, 3.0), (2.0, 5.0), (3.0, 7.0)]);
        let s = c.smoothed(2);
        assert_eq!(
            s.points.iter().map(|p| p.1).collect::<Vec<_>>(),
            vec![1.0, 2.0, 4.0, 6.0]
        );
        assert_eq!(c.smoothed(1), c);
    }

    #[test]
    fn decimation_keeps_the_extremes_of_each_bucket() {
        let mut points: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, 0.0)).collect();
        points[4_321].1 = 9.0;
        points[77].1 = -3.0;
        let kept = decimate(points.clone(), Some(100));
        assert!(kept.len() <= 100, "{}", kept.len());
        assert!(kept.contains(&(4_321.0, 9.0)) && kept.contains(&(77.0, -3.0)));
        assert!(kept.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(decimate(points[..50].to_vec(), Some(100)).len(), 50);
        let svg = chart_svg(
            "t",
            &[Panel {
                y_label: "y".into(),
                curves: vec![Curve::new("c", points)],
            }],
            (400, 300),
            10,
        )
        .unwrap();
        assert!(svg.starts_with("<svg") || svg.contains("<svg"));
        assert!(svg.len() < 200_000, "{} bytes", svg.len());
    }

    #[test]
    fn draws_a_png_even_with_non_finite_points() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.png");
        let loss: Vec<(f64, f64)> = (0..200)
            .map(|i| (i as f64, (i as f64 / 20.0).sin()))
            .collect();
        let mut odd = loss.clone();
        odd[5].1 = f64::NAN;
        let panels = [
            Panel {
                y_label: "loss".into(),
                curves: vec![Curve::new("D", loss), Curve::new("G", odd)],
            },
            Panel {
                y_label: "accuracy".into(),
                curves: vec![Curve::new("D acc", vec![(0.0, 0.5)])],
            },
        ];
        save_chart(&path, "training", &panels, (640, 480), 10).unwrap();
        let png = crate::raster::Rgb::load_png(&path).unwrap();
        assert_eq!((png.width, png.height), (640, 480));
        // Something besides the white background was drawn.
        assert!(png.pixels.iter().any(|&p| p < 128));
    }
}
