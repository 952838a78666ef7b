//! cargo fuzz target: see colorize_fuzz::decode (fuzz/src/lib.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(
    // libfuzzer-sys aborts on every panic, even one the library catches and turns into an
    // error (tract panics on some malformed graphs; colorize::Model::from_bytes catches it).
    // A silent hook keeps those recoverable; an uncaught panic still crashes the target,
    // and the harness fails on COLORIZE_ERROR_PANIC.
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| colorize_fuzz::decode(data)
);
