//! Arbitrary RowDescription and DataRow bodies mapped to a struct the way
//! #[derive(FromRow)] maps.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgline::types::fuzzing::from_row(data));
