//! A tour of pgline (filled in with the connection layer).
fn main() {}
