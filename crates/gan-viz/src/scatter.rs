//! A scatter plot of 2-d points coloured by class: where a VAE puts each digit in its latent
//! space.

use std::path::Path;

use plotters::prelude::*;

use crate::error::VizError;
use crate::font::ensure_registered;
use crate::raster::with_temp;

/// Ten distinguishable colours (matplotlib's `tab10`), one per class.
const CLASS_COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Draws `points` `(x, y, class)` (classes 0 to 9, one colour and legend entry each) under
/// `title`, axes labelled `labels`, into a PNG of `size` pixels. Non-finite points are left out.
pub fn save_scatter(
    path: &Path,
    title: &str,
    labels: (&str, &str),
    points: &[(f64, f64, u8)],
    size: (u32, u32),
) -> Result<(), VizError> {
    if let Some(&(_, _, class)) = points
        .iter()
        .find(|p| usize::from(p.2) >= CLASS_COLORS.len())
    {
        return Err(VizError::Invalid(format!(
            "class {class} has no colour: a scatter shows classes 0 to 9"
        )));
    }
    let finite: Vec<(f64, f64, u8)> = points
        .iter()
        .copied()
        .filter(|(x, y, _)| x.is_finite() && y.is_finite())
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) = (-1.0f64, 1.0f64, -1.0f64, 1.0f64);
    for &(x, y, _) in &finite {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    ensure_registered();
    with_temp(path, |tmp| {
        let draw = || -> Result<(), Box<dyn std::error::Error>> {
            let root = BitMapBackend::new(tmp, size).into_drawing_area();
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(35)
                .y_label_area_size(45)
                .build_cartesian_2d(x0..x1, y0..y1)?;
            chart
                .configure_mesh()
                .x_desc(labels.0)
                .y_desc(labels.1)
                .label_style(("sans-serif", 13))
                .axis_desc_style(("sans-serif", 15))
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            for (class, color) in CLASS_COLORS.iter().enumerate() {
                let ours = finite.iter().filter(|p| usize::from(p.2) == class);
                let color = *color;
                chart
                    .draw_series(
                        ours.map(|&(x, y, _)| Circle::new((x, y), 2, color.mix(0.6).filled())),
                    )?
                    .label(class.to_string())
                    .legend(move |(x, y)| Circle::new((x + 6, y), 4, color.filled()));
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
        };
        draw().map_err(|e| VizError::draw(path, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_class_in_its_colour() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latents.png");
        let points: Vec<(f64, f64, u8)> = (0..500)
            .map(|i| {
                let class = (i % 10) as u8;
                let angle = f64::from(class) * 0.6 + (i as f64) * 1e-3;
                (angle.cos() * 2.0, angle.sin() * 2.0, class)
            })
            .chain([(f64::NAN, 0.0, 3)])
            .collect();
        save_scatter(&path, "latent means", ("z1", "z2"), &points, (500, 500)).unwrap();
        let png = crate::raster::Rgb::load_png(&path).unwrap();
        assert_eq!((png.width, png.height), (500, 500));
        let has = |c: RGBColor| png.pixels.chunks(3).any(|p| p == [c.0, c.1, c.2]);
        assert!(has(CLASS_COLORS[0]) && has(CLASS_COLORS[9]));
        let err = save_scatter(&path, "x", ("a", "b"), &[(0.0, 0.0, 10)], (100, 100)).unwrap_err();
        assert!(err.to_string().contains("class 10"), "{err}");
    }
}
