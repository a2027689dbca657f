//! Protocol conformance tests.
