//! cargo fuzz target: see colorize_fuzz::model_load (fuzz/src/lib.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| colorize_fuzz::model_load(data));
