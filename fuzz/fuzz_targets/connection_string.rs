//! Arbitrary bytes through the URL and key=value connection-string parsers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgline::config::fuzzing::connection_string(data));
