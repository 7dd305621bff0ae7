//! The chart font, embedded so charts render the same on any machine (DejaVu Sans, see
//! `assets/DejaVuSans-LICENSE.txt`).

use std::sync::Once;

use plotters::style::FontStyle;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the embedded font as `sans-serif` (once per process).
pub(crate) fn ensure_registered() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            // Only possible if the embedded file were not a font; charts then lack text.
            eprintln!("gan-viz: embedded font failed to load");
        }
    });
}
