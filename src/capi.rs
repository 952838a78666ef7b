//! The C ABI (`include/colorize.h`, generated from this file by cbindgen in build.rs).
//!
//! Only wrappers live here: each export checks pointers and sizes (overflow-checked), calls
//! the safe API, maps its error to a status, and runs inside `catch_unwind` so no panic
//! ever crosses into C. Outputs are written only on success. Messages go to a thread-local
//! slot read by `colorize_last_error`.
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::engine::required_len;
use crate::error::{Error, ErrorKind};
use crate::model::{Model, DEFAULT_MAX_MODEL_BYTES};
use crate::{Mode, Options};

/// Result of every fallible call. Values are fixed forever; new ones are only appended.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum colorize_status {
    COLORIZE_OK = 0,
    COLORIZE_ERROR_NULL_POINTER = 1,
    COLORIZE_ERROR_INVALID_ARGUMENT = 2,
    /// No embedded default model, or an unknown model name.
    COLORIZE_ERROR_NO_MODEL = 3,
    /// Unreadable or corrupt ONNX.
    COLORIZE_ERROR_MODEL_LOAD = 4,
    /// ONNX that breaks the model contract (DESIGN.md section 3).
    COLORIZE_ERROR_MODEL_CONTRACT = 5,
    COLORIZE_ERROR_INFERENCE = 6,
    COLORIZE_ERROR_IO = 7,
    /// Size overflow or over a limit.
    COLORIZE_ERROR_TOO_LARGE = 8,
    /// Internal bug caught at the boundary.
    COLORIZE_ERROR_PANIC = 9,
}

/// Where the network runs. (Read through `RawOptions`, so Rust never constructs it.)
#[repr(C)]
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum colorize_mode {
    /// On L* resized so its short side is the working size (default).
    COLORIZE_MODE_WORKING = 0,
    /// At full resolution in overlapping tiles (bounded memory).
    COLORIZE_MODE_NATIVE = 1,
}

/// Options of a colorize call; start from `colorize_options_default()`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct colorize_options {
    /// Short side the network runs at in WORKING mode; 0 = the model's train size.
    pub working_size: u32,
    /// Multiplies a*, b*; 1.0 = as predicted.
    pub saturation: f32,
    /// WORKING (default) or NATIVE = full resolution in overlapping tiles.
    pub mode: colorize_mode,
    /// NATIVE tile side in pixels; 0 = library default.
    pub tile_size: u32,
}

/// The same layout as `colorize_options` with `mode` as a plain integer, so that a value
/// that is not a valid `colorize_mode` (an uninitialised struct in C) is an error, not UB.
#[repr(C)]
struct RawOptions {
    working_size: u32,
    saturation: f32,
    mode: u32,
    tile_size: u32,
}

/// An opaque model handle: immutable after load, usable from many threads at once.
/// Made by `colorize_model_load_*`, released by `colorize_model_free`.
pub struct colorize_model {
    model: Model,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = c);
}

fn status_of(kind: ErrorKind) -> colorize_status {
    use colorize_status::*;
    match kind {
        ErrorKind::InvalidArgument => COLORIZE_ERROR_INVALID_ARGUMENT,
        ErrorKind::NoModel => COLORIZE_ERROR_NO_MODEL,
        ErrorKind::ModelLoad => COLORIZE_ERROR_MODEL_LOAD,
        ErrorKind::ModelContract => COLORIZE_ERROR_MODEL_CONTRACT,
        ErrorKind::Inference => COLORIZE_ERROR_INFERENCE,
        ErrorKind::Io => COLORIZE_ERROR_IO,
        ErrorKind::TooLarge => COLORIZE_ERROR_TOO_LARGE,
    }
}

/// A failure before reaching the safe API: a status and its message.
struct Failure(colorize_status, String);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(status_of(e.kind()), e.to_string())
    }
}

fn null(what: &str) -> Failure {
    Failure(
        colorize_status::COLORIZE_ERROR_NULL_POINTER,
        format!("{what} is NULL"),
    )
}

/// Runs `body` with panics caught, records its message, returns its status.
fn guard(body: impl FnOnce() -> Result<(), Failure>) -> colorize_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            set_last_error("");
            colorize_status::COLORIZE_OK
        }
        Ok(Err(Failure(status, message))) => {
            set_last_error(&message);
            status
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            set_last_error(&format!("internal error (please report): {what}"));
            colorize_status::COLORIZE_ERROR_PANIC
        }
    }
}

unsafe fn options_from(options: *const colorize_options) -> Result<Options, Failure> {
    if options.is_null() {
        return Ok(Options::default());
    }
    let raw = &*(options as *const RawOptions);
    let mode = match raw.mode {
        0 => Mode::Working,
        1 => Mode::Native,
        other => {
            return Err(Failure(
                colorize_status::COLORIZE_ERROR_INVALID_ARGUMENT,
                format!("options.mode is {other}: use COLORIZE_MODE_WORKING (0) or COLORIZE_MODE_NATIVE (1)"),
            ))
        }
    };
    Ok(Options {
        working_size: raw.working_size,
        saturation: raw.saturation,
        mode,
        tile_size: raw.tile_size,
        ..Options::default()
    })
}

unsafe fn model_from(model: *const colorize_model) -> Result<Model, Failure> {
    if model.is_null() {
        Ok(Model::default_model()?)
    } else {
        Ok((*model).model.clone())
    }
}

unsafe fn c_str<'a>(s: *const c_char, what: &str) -> Result<&'a CStr, Failure> {
    if s.is_null() {
        Err(null(what))
    } else {
        Ok(CStr::from_ptr(s))
    }
}

/// Byte ranges of two buffers overlap (which the Rust side may not alias).
fn overlaps<A, B>(a: *const A, a_len: usize, b: *const B, b_len: usize) -> bool {
    let (a0, b0) = (a as usize, b as usize);
    let (a1, b1) = (
        a0.saturating_add(a_len * size_of::<A>()),
        b0.saturating_add(b_len * size_of::<B>()),
    );
    a0 < b1 && b0 < a1
}

/// Defaults: working size 0 (the model's), saturation 1.0, WORKING mode, tile size 0.
#[no_mangle]
pub extern "C" fn colorize_options_default() -> colorize_options {
    colorize_options {
        working_size: 0,
        saturation: 1.0,
        mode: colorize_mode::COLORIZE_MODE_WORKING,
        tile_size: 0,
    }
}

unsafe fn store_model(out: *mut *mut colorize_model, model: Model) {
    *out = Box::into_raw(Box::new(colorize_model { model }));
}

/// Loads an ONNX model file. On success `*out` receives a handle the caller frees with
/// `colorize_model_free`; on failure `*out` is not written.
///
/// # Safety
/// `path` is a NUL-terminated string; `out` points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn colorize_model_load_file(
    path: *const c_char,
    out: *mut *mut colorize_model,
) -> colorize_status {
    guard(|| {
        let path = c_str(path, "path")?;
        if out.is_null() {
            return Err(null("out"));
        }
        let path = std::path::Path::new(std::ffi::OsStr::from_encoded_bytes_unchecked(
            path.to_bytes(),
        ));
        store_model(out, Model::from_file(path)?);
        Ok(())
    })
}

/// Loads an ONNX model from `len` bytes at `data` (copied; the caller keeps its buffer).
/// On success `*out` receives a handle to free with `colorize_model_free`.
///
/// # Safety
/// `data` points to `len` readable bytes; `out` to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn colorize_model_load_memory(
    data: *const u8,
    len: usize,
    out: *mut *mut colorize_model,
) -> colorize_status {
    guard(|| {
        if data.is_null() {
            return Err(null("data"));
        }
        if out.is_null() {
            return Err(null("out"));
        }
        if len as u64 > DEFAULT_MAX_MODEL_BYTES || len > isize::MAX as usize {
            return Err(Failure(
                colorize_status::COLORIZE_ERROR_TOO_LARGE,
                format!(
                    "model of {len} bytes is over the limit of {DEFAULT_MAX_MODEL_BYTES} bytes"
                ),
            ));
        }
        let bytes = std::slice::from_raw_parts(data, len);
        store_model(out, Model::from_bytes(bytes, "model from memory")?);
        Ok(())
    })
}

/// Loads an embedded model by name: `landscape-l2`, `landscape-huber`, `landscape-pmse` or
/// `default`. COLORIZE_ERROR_NO_MODEL if this build does not embed it.
///
/// # Safety
/// `name` is a NUL-terminated string; `out` points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn colorize_model_load_named(
    name: *const c_char,
    out: *mut *mut colorize_model,
) -> colorize_status {
    guard(|| {
        let name = c_str(name, "name")?;
        if out.is_null() {
            return Err(null("out"));
        }
        let name = name.to_str().map_err(|_| {
            Failure(
                colorize_status::COLORIZE_ERROR_NO_MODEL,
                "the model name is not valid UTF-8".to_string(),
            )
        })?;
        store_model(out, Model::from_name(name)?);
        Ok(())
    })
}

/// Releases a model handle. NULL does nothing.
///
/// # Safety
/// `model` is NULL or a handle from `colorize_model_load_*` not yet freed, and no other
/// thread is using it.
#[no_mangle]
pub unsafe extern "C" fn colorize_model_free(model: *mut colorize_model) {
    if !model.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(model))));
    }
}

/// A metadata value of the model (e.g. "colorize.loss"), or NULL if absent or if either
/// argument is NULL. The string is owned by the model and lives as long as it.
///
/// # Safety
/// `model` is a live handle or NULL; `key` a NUL-terminated string or NULL.
#[no_mangle]
pub unsafe extern "C" fn colorize_model_metadata(
    model: *const colorize_model,
    key: *const c_char,
) -> *const c_char {
    if model.is_null() || key.is_null() {
        return std::ptr::null();
    }
    catch_unwind(AssertUnwindSafe(|| {
        let key = CStr::from_ptr(key).to_str().ok()?;
        (*model).model.metadata_c(key).map(|v| v.as_ptr())
    }))
    .ok()
    .flatten()
    .unwrap_or(std::ptr::null())
}

/// Predicts a*, b* for an L* plane with the embedded default model and default options.
///
/// `l`: L* (0..100) of width x height pixels, row-major, `l_stride` floats between row
/// starts (>= width); read only. `ab`: caller-owned output of interleaved a*,b* pairs,
/// `ab_stride` floats between row starts (>= 2 * width); written only on success, and only
/// the first 2 * width floats of each row.
///
/// # Safety
/// `l` points to (height - 1) * l_stride + width readable floats, `ab` to
/// (height - 1) * ab_stride + 2 * width writable floats.
#[no_mangle]
pub unsafe extern "C" fn colorize_l_channel(
    l: *const f32,
    width: usize,
    height: usize,
    l_stride: usize,
    ab: *mut f32,
    ab_stride: usize,
) -> colorize_status {
    colorize_l_channel_with_model(
        std::ptr::null(),
        std::ptr::null(),
        l,
        width,
        height,
        l_stride,
        ab,
        ab_stride,
    )
}

/// As `colorize_l_channel` with a model (NULL = the embedded default) and options
/// (NULL = defaults).
///
/// # Safety
/// As `colorize_l_channel`; `model` is NULL or a live handle; `options` NULL or valid.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn colorize_l_channel_with_model(
    model: *const colorize_model,
    options: *const colorize_options,
    l: *const f32,
    width: usize,
    height: usize,
    l_stride: usize,
    ab: *mut f32,
    ab_stride: usize,
) -> colorize_status {
    guard(|| {
        if l.is_null() {
            return Err(null("l"));
        }
        if ab.is_null() {
            return Err(null("ab"));
        }
        let l_len = required_len(width, height, l_stride, 1)?;
        let ab_len = required_len(width, height, ab_stride, 2)?;
        if overlaps(l, l_len, ab, ab_len) {
            return Err(Failure(
                colorize_status::COLORIZE_ERROR_INVALID_ARGUMENT,
                "the l and ab buffers overlap".to_string(),
            ));
        }
        let options = options_from(options)?;
        let model = model_from(model)?;
        let l = std::slice::from_raw_parts(l, l_len);
        let ab = std::slice::from_raw_parts_mut(ab, ab_len);
        crate::colorize_l(&model, &options, l, width, height, l_stride, ab, ab_stride)?;
        Ok(())
    })
}

unsafe fn in_place<T>(
    pixels: *mut T,
    width: usize,
    height: usize,
    stride: usize,
    channels: usize,
    run: impl FnOnce(&mut [T]) -> Result<(), Failure>,
) -> Result<(), Failure> {
    if pixels.is_null() {
        return Err(null("pixels"));
    }
    if !(3..=4).contains(&channels) {
        return Err(Failure(
            colorize_status::COLORIZE_ERROR_INVALID_ARGUMENT,
            format!("channels is {channels}, it must be 3 (RGB) or 4 (RGBA)"),
        ));
    }
    let len = required_len(width, height, stride, channels)?;
    if len
        .checked_mul(size_of::<T>())
        .is_none_or(|b| b > isize::MAX as usize)
    {
        return Err(Failure(
            colorize_status::COLORIZE_ERROR_TOO_LARGE,
            "buffer size overflows".to_string(),
        ));
    }
    run(std::slice::from_raw_parts_mut(pixels, len))
}

/// Colorizes 8-bit sRGB (channels = 3) or RGBA (4) pixels in place, keeping each pixel's
/// L* and alpha. `stride` in bytes between row starts. `model` NULL = default model,
/// `options` NULL = defaults. The caller-owned buffer is written only on success.
///
/// # Safety
/// `pixels` points to (height - 1) * stride + width * channels writable bytes.
#[no_mangle]
pub unsafe extern "C" fn colorize_rgb8(
    model: *const colorize_model,
    options: *const colorize_options,
    pixels: *mut u8,
    width: usize,
    height: usize,
    stride: usize,
    channels: usize,
) -> colorize_status {
    guard(|| {
        let options = options_from(options)?;
        in_place(pixels, width, height, stride, channels, |buf| {
            let model = model_from(model)?;
            crate::colorize_rgb8(&model, &options, buf, width, height, stride, channels)?;
            Ok(())
        })
    })
}

/// As `colorize_rgb8` for 16-bit sRGB; `stride` in uint16_t elements.
///
/// # Safety
/// `pixels` points to (height - 1) * stride + width * channels writable uint16_t.
#[no_mangle]
pub unsafe extern "C" fn colorize_rgb16(
    model: *const colorize_model,
    options: *const colorize_options,
    pixels: *mut u16,
    width: usize,
    height: usize,
    stride: usize,
    channels: usize,
) -> colorize_status {
    guard(|| {
        let options = options_from(options)?;
        in_place(pixels, width, height, stride, channels, |buf| {
            let model = model_from(model)?;
            crate::colorize_rgb16(&model, &options, buf, width, height, stride, channels)?;
            Ok(())
        })
    })
}

/// As `colorize_rgb8` for float RGB(A) in 0..1: sRGB-encoded (linear = false) or linear
/// light (linear = true); `stride` in floats. For hosts such as GIMP at any precision.
///
/// # Safety
/// `pixels` points to (height - 1) * stride + width * channels writable floats.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn colorize_rgb_float(
    model: *const colorize_model,
    options: *const colorize_options,
    pixels: *mut f32,
    width: usize,
    height: usize,
    stride: usize,
    channels: usize,
    linear: bool,
) -> colorize_status {
    guard(|| {
        let options = options_from(options)?;
        in_place(pixels, width, height, stride, channels, |buf| {
            let model = model_from(model)?;
            crate::colorize_rgb_float(
                &model, &options, buf, width, height, stride, channels, linear,
            )?;
            Ok(())
        })
    })
}

/// The message of the last failed call on this thread ("" after a successful one). Owned
/// by the library, valid until the next call on this thread. Never NULL.
#[no_mangle]
pub extern "C" fn colorize_last_error() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

/// A static description of a status code.
#[no_mangle]
pub extern "C" fn colorize_status_str(s: colorize_status) -> *const c_char {
    use colorize_status::*;
    let text: &'static CStr = match s {
        COLORIZE_OK => c"ok",
        COLORIZE_ERROR_NULL_POINTER => c"a required pointer is NULL",
        COLORIZE_ERROR_INVALID_ARGUMENT => c"invalid argument",
        COLORIZE_ERROR_NO_MODEL => c"no such model (no embedded default, or unknown name)",
        COLORIZE_ERROR_MODEL_LOAD => c"the model cannot be read (not valid ONNX)",
        COLORIZE_ERROR_MODEL_CONTRACT => c"the model breaks the colorize model contract",
        COLORIZE_ERROR_INFERENCE => c"the network failed to run",
        COLORIZE_ERROR_IO => c"input/output error",
        COLORIZE_ERROR_TOO_LARGE => c"size overflow or over a limit",
        COLORIZE_ERROR_PANIC => c"internal error (a bug caught at the C boundary)",
    };
    text.as_ptr()
}

/// The library version, e.g. "0.1.0" (static; equals the COLORIZE_VERSION_* macros).
#[no_mangle]
pub extern "C" fn colorize_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("version has a NUL"),
        };
    VERSION.as_ptr()
}
