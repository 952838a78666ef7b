//! cargo fuzz target: see colorize_fuzz::model_shape (fuzz/src/lib.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(
    // As in model_load: panics that the library catches stay recoverable.
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| colorize_fuzz::model_shape(data)
);
