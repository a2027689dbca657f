//! Arbitrary bytes as the SCRAM server-first-message.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgline::proto::fuzzing::scram_server_first(data));
