//! Arbitrary bytes as the SCRAM server-final-message, checked against an independent signature.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgline::proto::fuzzing::scram_server_final(data));
