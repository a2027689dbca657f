//! Derive macros for pgline.
//!
//! Owns the procedural macros (`#[derive(FromRow)]` and friends) that map rows
//! to structs. It holds no runtime code; the traits the macros implement live in
//! `pgline::types`. The macros themselves arrive with the type-system work.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
