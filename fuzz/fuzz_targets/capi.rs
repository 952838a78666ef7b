//! cargo fuzz target: see colorize_fuzz::capi (fuzz/src/lib.rs) for what is checked there;
//! `settings_calls` below reads the same bytes again for the settings part of the C API:
//! every setter with arbitrary values, a run with a progress callback that stops at an
//! arbitrary report, colorize_status_str on any int, the model list at any index and
//! colorize_model_load on arbitrary names. Checked: no COLORIZE_ERROR_PANIC, a setter that
//! fails leaves the settings as they were, a cancelled run leaves its pixels untouched,
//! progress never decreases, every string returned is NUL-terminated or NULL where allowed.
#![no_main]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::OnceLock;

#[allow(non_camel_case_types)]
enum colorize_settings {}
#[allow(non_camel_case_types)]
enum colorize_model {}
type Progress = Option<unsafe extern "C" fn(f32, *mut c_void) -> bool>;

extern "C" {
    fn colorize_settings_new() -> *mut colorize_settings;
    fn colorize_settings_free(s: *mut colorize_settings);
    fn colorize_settings_set_working_size(s: *mut colorize_settings, v: u32) -> u32;
    fn colorize_settings_set_saturation(s: *mut colorize_settings, v: f32) -> u32;
    fn colorize_settings_set_mode(s: *mut colorize_settings, v: u32) -> u32;
    fn colorize_settings_set_tile_size(s: *mut colorize_settings, v: u32) -> u32;
    fn colorize_settings_set_upsampling(s: *mut colorize_settings, v: u32) -> u32;
    fn colorize_settings_set_threads(s: *mut colorize_settings, v: u32) -> u32;
    fn colorize_settings_set_progress(
        s: *mut colorize_settings,
        f: Progress,
        user_data: *mut c_void,
    ) -> u32;
    fn colorize_run_rgb8(
        m: *const colorize_model,
        s: *const colorize_settings,
        pixels: *mut u8,
        width: usize,
        height: usize,
        stride: usize,
        channels: usize,
    ) -> u32;
    fn colorize_run_l_channel(
        m: *const colorize_model,
        s: *const colorize_settings,
        l: *const f32,
        width: usize,
        height: usize,
        l_stride: usize,
        ab: *mut f32,
        ab_stride: usize,
    ) -> u32;
    fn colorize_model_load_memory(
        data: *const u8,
        len: usize,
        out: *mut *mut colorize_model,
    ) -> u32;
    fn colorize_model_load(name: *const c_char, out: *mut *mut colorize_model) -> u32;
    fn colorize_model_free(m: *mut colorize_model);
    fn colorize_model_count() -> usize;
    fn colorize_model_name_at(index: usize) -> *const c_char;
    fn colorize_model_metadata_at(index: usize, key: *const c_char) -> *const c_char;
    fn colorize_status_str(status: c_int) -> *const c_char;
    fn colorize_last_error() -> *const c_char;
}

const OK: u32 = 0;
const INVALID: u32 = 2;
const PANIC: u32 = 9;
const CANCELLED: u32 = 10;

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(colorize_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// The small linear model, loaded once (a* = 0.5 (L* - 50), b* = -0.25 (L* - 50)).
fn linear_model() -> *const colorize_model {
    struct Handle(*mut colorize_model);
    unsafe impl Send for Handle {}
    unsafe impl Sync for Handle {}
    static MODEL: OnceLock<Handle> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let bytes = colorize::onnx::linear_test_model(0.5, -0.25);
            let mut out = std::ptr::null_mut();
            let status =
                unsafe { colorize_model_load_memory(bytes.as_ptr(), bytes.len(), &mut out) };
            assert_eq!(status, OK, "{}", last_error());
            Handle(out)
        })
        .0
}

struct StopAt {
    reports: Vec<f32>,
    stop_at: usize,
}

unsafe extern "C" fn progress(fraction: f32, user_data: *mut c_void) -> bool {
    let log = &mut *(user_data as *mut StopAt);
    log.reports.push(fraction);
    log.stop_at == 0 || log.reports.len() < log.stop_at
}

fn settings_calls(data: &[u8]) {
    let mut b = Bytes(data);
    // colorize_status_str on any int.
    let status = b.u32() as c_int;
    let text = unsafe { colorize_status_str(status) };
    assert!(!text.is_null());
    let _ = unsafe { CStr::from_ptr(text) }.to_bytes().len();

    // Setters with arbitrary values: OK or INVALID_ARGUMENT; a failure changes nothing,
    // which the run below would show (it must then behave as with the earlier values).
    let settings = unsafe { colorize_settings_new() };
    assert!(!settings.is_null());
    for _ in 0..(b.u8() % 8) {
        let value = b.u32();
        let status = unsafe {
            match b.u8() % 6 {
                0 => colorize_settings_set_working_size(settings, value % 300),
                1 => colorize_settings_set_saturation(settings, f32::from_bits(value)),
                2 => colorize_settings_set_mode(settings, value % 4),
                3 => colorize_settings_set_tile_size(settings, value % 200),
                4 => colorize_settings_set_upsampling(settings, value % 4),
                _ => colorize_settings_set_threads(settings, value % 6),
            }
        };
        assert!(
            status == OK || status == INVALID,
            "setter gave {status}: {}",
            last_error()
        );
    }
    let mut log = StopAt {
        reports: Vec::new(),
        stop_at: usize::from(b.u8() % 16),
    };
    let with_progress = b.u8() & 1 == 1;
    if with_progress {
        let status = unsafe {
            colorize_settings_set_progress(
                settings,
                Some(progress),
                &mut log as *mut _ as *mut c_void,
            )
        };
        assert_eq!(status, OK);
    }

    // One run on a small image, RGB8 or L*.
    let (width, height) = (1 + usize::from(b.u8() % 40), 1 + usize::from(b.u8() % 40));
    let model = linear_model();
    if b.u8() & 1 == 0 {
        let stride = width * 3 + usize::from(b.u8() % 4);
        let original: Vec<u8> = (0..stride * height).map(|_| b.u8()).collect();
        let mut pixels = original.clone();
        let status = unsafe {
            colorize_run_rgb8(
                model,
                settings,
                pixels.as_mut_ptr(),
                width,
                height,
                stride,
                3,
            )
        };
        check_run(status, &log, with_progress);
        if status != OK {
            assert!(pixels == original, "status {status} but the pixels changed");
        }
        for (i, (new, old)) in pixels.iter().zip(&original).enumerate() {
            assert!(
                i % stride < width * 3 || new == old,
                "padding written at {i}"
            );
        }
    } else {
        let l: Vec<f32> = (0..width * height)
            .map(|_| f32::from(b.u8() % 101))
            .collect();
        let mut ab = vec![-999.0f32; 2 * width * height];
        let status = unsafe {
            colorize_run_l_channel(
                model,
                settings,
                l.as_ptr(),
                width,
                height,
                width,
                ab.as_mut_ptr(),
                2 * width,
            )
        };
        check_run(status, &log, with_progress);
        if status != OK {
            assert!(
                ab.iter().all(|&v| v == -999.0),
                "status {status} but ab was written"
            );
        }
    }
    unsafe { colorize_settings_free(settings) };

    // The model list at any index, metadata by any key.
    let count = unsafe { colorize_model_count() };
    let index = match b.u8() % 3 {
        0 => usize::from(b.u8()) % (count + 1),
        1 => b.u32() as usize,
        _ => usize::MAX - usize::from(b.u8()),
    };
    let name = unsafe { colorize_model_name_at(index) };
    assert_eq!(
        name.is_null(),
        index >= count,
        "name_at({index}) of {count}"
    );
    let key: Vec<u8> = (0..b.u8() % 24).map(|_| b'a' + b.u8() % 26).collect();
    let key = CString::new(key).unwrap();
    let value = unsafe { colorize_model_metadata_at(index, key.as_ptr()) };
    if !value.is_null() {
        let _ = unsafe { CStr::from_ptr(value) }.to_bytes().len();
    }

    // colorize_model_load on a name of letters, digits, '-' and '.': never a panic.
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-.";
    let name: Vec<u8> = (0..b.u8() % 20)
        .map(|_| CHARS[usize::from(b.u8()) % CHARS.len()])
        .collect();
    let name = CString::new(name).unwrap();
    let mut out = std::ptr::null_mut();
    let status = unsafe { colorize_model_load(name.as_ptr(), &mut out) };
    assert_ne!(status, PANIC, "{}", last_error());
    if status == OK {
        unsafe { colorize_model_free(out) };
    } else {
        assert!(out.is_null(), "out written on failure");
    }
}

fn check_run(status: u32, log: &StopAt, with_progress: bool) {
    assert_ne!(status, PANIC, "{}", last_error());
    assert!(
        status == OK || status == CANCELLED,
        "run gave {status}: {}",
        last_error()
    );
    if status == CANCELLED {
        assert!(with_progress && log.stop_at > 0, "cancelled without a stop");
    }
    if with_progress {
        assert!(
            log.reports.windows(2).all(|w| w[0] <= w[1]),
            "{:?}",
            log.reports
        );
        assert!(
            log.reports.iter().all(|f| (0.0..=1.0).contains(f)),
            "{:?}",
            log.reports
        );
        if status == OK {
            assert_eq!(log.reports.last(), Some(&1.0), "{:?}", log.reports);
        }
    }
}

libfuzzer_sys::fuzz_target!(
    // libfuzzer-sys aborts on every panic, even one the library catches and turns into an
    // error (tract panics on some malformed graphs; colorize::Model::from_bytes catches it).
    // A silent hook keeps those recoverable; an uncaught panic still crashes the target,
    // and the harness fails on COLORIZE_ERROR_PANIC.
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| {
        colorize_fuzz::capi(data);
        settings_calls(data);
    }
);
