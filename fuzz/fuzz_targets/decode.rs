//! cargo fuzz target: see colorize_fuzz::decode (fuzz/src/lib.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| colorize_fuzz::decode(data));
