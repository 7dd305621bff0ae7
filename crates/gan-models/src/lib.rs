//! # gan-models
//!
//! libtorch-backed generators and discriminators for gan-rs, described by configs so that
//! variants are data, not copies.
