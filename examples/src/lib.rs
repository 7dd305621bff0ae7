//! # gan-examples
//!
//! gan-rs used as libraries, one short program each (run them with `cargo run --release -p
//! gan-examples --example NAME -- ARGS`):
//!
//! - `train_preset`: train a preset into a run directory (`train_preset mlp runs/example 500`).
//! - `sample_grid`: load a run and draw 64 samples as an 8×8 grid PNG (`sample_grid
//!   runs/example grid.png`).
//! - `score_samples`: score 10,000 samples of a run with `gan-eval`'s metrics (`score_samples
//!   runs/example`).
//!
//! They read MNIST from the default data directory (`$GAN_DATA_DIR`, else
//! `~/.cache/gan-rs/mnist`; `cargo xtask fetch-data` puts it there). `cargo test` builds them
//! and runs each on a tiny data set (`tests/examples_run.rs`).
