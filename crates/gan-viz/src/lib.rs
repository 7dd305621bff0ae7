//! # gan-viz
//!
//! Pictures for gan-rs, drawn with plotters: image grids, loss charts, animations.
