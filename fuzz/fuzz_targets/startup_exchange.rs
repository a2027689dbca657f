//! Arbitrary server messages through the startup/authentication state machine.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgline::proto::fuzzing::startup_exchange(data));
