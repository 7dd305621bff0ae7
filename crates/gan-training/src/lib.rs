//! # gan-training
//!
//! Losses, the Adam optimizer, the GAN training loop and checkpoints for gan-rs.
