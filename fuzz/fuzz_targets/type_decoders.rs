//! A type selector byte and an arbitrary binary value through the decoders,
//! with decode(encode(x)) == x where a value decodes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgline::types::fuzzing::decode(data));
