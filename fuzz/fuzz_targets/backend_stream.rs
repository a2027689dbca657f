//! Arbitrary bytes as a server stream and as every backend message body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgline::proto::fuzzing::backend_stream(data));
