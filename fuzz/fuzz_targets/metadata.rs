//! cargo fuzz target: see colorize_fuzz::cli::metadata (fuzz/src/cli.rs) for what is
//! checked. Nothing here catches a panic, so the default hook prints its message.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| colorize_fuzz::cli::metadata(data));
