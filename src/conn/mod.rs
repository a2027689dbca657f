//! The tokio connection layer.
