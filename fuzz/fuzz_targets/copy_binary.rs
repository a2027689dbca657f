//! Arbitrary bytes through the COPY BINARY row reader, split anywhere.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgline::proto::fuzzing::copy_binary(data));
