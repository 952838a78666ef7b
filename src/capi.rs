//! The C ABI (`include/colorize.h`, generated from this file by cbindgen in build.rs).
//!
//! Only wrappers over the safe public API live here: each export checks pointers and sizes
//! (overflow-checked), calls the safe API, maps its error to a status, and runs inside
//! `catch_unwind` so no panic ever crosses into C; a panic hook keeps panic text off the
//! host's stderr and records it for `colorize_last_error`. Outputs are written only on
//! success. Messages go to a thread-local slot read by `colorize_last_error`.
#![allow(non_camel_case_types)]

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, Once, OnceLock};

use crate::{
    available_models, installed_models, required_len, Error, ErrorKind, Mode, Model, Options,
    Precision, Progress, Upsampling, DEFAULT_MAX_MODEL_BYTES,
};

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
    /// ONNX that breaks the model contract (docs/model-contract.md).
    COLORIZE_ERROR_MODEL_CONTRACT = 5,
    COLORIZE_ERROR_INFERENCE = 6,
    COLORIZE_ERROR_IO = 7,
    /// Size overflow or over a limit.
    COLORIZE_ERROR_TOO_LARGE = 8,
    /// Internal bug caught at the boundary.
    COLORIZE_ERROR_PANIC = 9,
    /// The progress callback returned false; the output buffer is untouched.
    COLORIZE_ERROR_CANCELLED = 10,
}

/// Where the network runs. (Read as a plain integer, so Rust never constructs it.)
#[repr(C)]
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum colorize_mode {
    /// On L* resized so its short side is the working size (default).
    COLORIZE_MODE_WORKING = 0,
    /// At full resolution in overlapping tiles (bounded memory).
    COLORIZE_MODE_NATIVE = 1,
}

/// How WORKING mode brings its low-resolution colour to full resolution. (Read as a plain
/// integer, so Rust never constructs it.)
#[repr(C)]
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum colorize_upsampling {
    /// Plain bilinear interpolation: smooth, but colour bleeds across sharp edges.
    COLORIZE_UPSAMPLING_BILINEAR = 0,
    /// Edge-aware (guided by the full-resolution L*): colour follows the photo's edges
    /// (default).
    COLORIZE_UPSAMPLING_GUIDED = 1,
}

/// The arithmetic of the network's matrix products. (Read as a plain integer, so Rust never
/// constructs it.)
#[repr(C)]
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum colorize_precision {
    /// 32-bit floats throughout, as the model was trained.
    COLORIZE_PRECISION_F32 = 0,
    /// Matrix-product operands rounded to bfloat16, accumulated in f32, on the CPU's AMX
    /// tiles: several times faster on Intel Xeon 4th generation and later; runs as F32 on a
    /// CPU without AMX-BF16 (see colorize_precision_runs_natively).
    COLORIZE_PRECISION_BF16 = 1,
}

/// A `colorize_precision` argument as the integer C passes (named `colorize_precision` in
/// the header).
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct RawPrecision(u32);

impl RawPrecision {
    fn get(self) -> Result<Precision, Failure> {
        match self.0 {
            0 => Ok(Precision::F32),
            1 => Ok(Precision::Bf16),
            other => Err(invalid(format!(
                "precision is {other}: use COLORIZE_PRECISION_F32 (0) or \
                 COLORIZE_PRECISION_BF16 (1)"
            ))),
        }
    }
}

/// A `colorize_mode` argument as the integer C passes, so that a value outside the enum is
/// an error, not undefined behaviour (named `colorize_mode` in the header).
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct RawMode(u32);

/// A `colorize_upsampling` argument as the integer C passes (named `colorize_upsampling`
/// in the header).
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct RawUpsampling(u32);

/// Options of a colorize call passed by value; start from `colorize_options_default()`.
/// Fixed forever: newer settings (upsampling, threads, progress) are only in
/// `colorize_settings`.
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

/// Progress callback: `fraction` goes from 0 to 1 and never decreases (1 is the last call
/// of a successful run); called on the thread that made the colorize call, never on
/// another. Return true to go on, false to stop: the call then returns
/// COLORIZE_ERROR_CANCELLED and leaves the output buffer untouched.
pub type colorize_progress_fn =
    Option<unsafe extern "C" fn(fraction: f32, user_data: *mut c_void) -> bool>;

/// Settings of a colorize call: an opaque object that can grow without breaking clients.
/// Made by `colorize_settings_new` (defaults), changed by the `colorize_settings_set_*`
/// setters, released by `colorize_settings_free`. A call only reads it, so one settings
/// object may serve calls on several threads at once as long as no setter runs meanwhile.
pub struct colorize_settings {
    working_size: u32,
    saturation: f32,
    vividness: f32,
    mode: Mode,
    tile_size: u32,
    upsampling: Upsampling,
    threads: u32,
    precision: Precision,
    progress: colorize_progress_fn,
    user_data: *mut c_void,
}

/// An opaque model handle: immutable after load, usable from many threads at once.
/// Made by `colorize_model_load*`, released by `colorize_model_free`.
pub struct colorize_model {
    model: Model,
    /// The model's metadata as C strings, owned by the handle.
    c_metadata: HashMap<String, CString>,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    /// Set while this thread runs a C API call: its panics are recorded, not printed.
    static IN_C_CALL: Cell<bool> = const { Cell::new(false) };
}

/// The last panic message recorded by the hook during a C API call (with its location
/// when the panic was on the calling thread).
static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);
/// How many C API calls are running now, on all threads.
static CALLS_RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Installs, once, a panic hook that keeps panics of C API calls off stderr (a C host did
/// not ask for Rust's messages there; the text goes to `colorize_last_error` instead).
/// Panics on a thread of the call, or on a worker thread while a call runs, are recorded;
/// any other panic goes to the hook that was there before.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ours = IN_C_CALL.with(Cell::get)
                || (CALLS_RUNNING.load(std::sync::atomic::Ordering::SeqCst) > 0
                    && rayon::current_thread_index().is_some());
            if !ours {
                return previous(info);
            }
            let what = payload_text(info.payload());
            let text = match info.location() {
                Some(at) => format!("{what} (at {}:{})", at.file(), at.line()),
                None => what,
            };
            *PANIC_MESSAGE.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
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
        ErrorKind::Cancelled => COLORIZE_ERROR_CANCELLED,
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

fn invalid(message: String) -> Failure {
    Failure(colorize_status::COLORIZE_ERROR_INVALID_ARGUMENT, message)
}

/// Runs `body` as a C API call: panics caught (and kept off stderr), its message recorded,
/// its status returned.
fn guard(body: impl FnOnce() -> Result<(), Failure>) -> colorize_status {
    let result = quiet_unwind(body);
    match result {
        Ok(Ok(())) => {
            set_last_error("");
            colorize_status::COLORIZE_OK
        }
        Ok(Err(Failure(status, message))) => {
            set_last_error(&message);
            status
        }
        Err(what) => {
            set_last_error(&format!("internal error (please report): {what}"));
            colorize_status::COLORIZE_ERROR_PANIC
        }
    }
}

/// Runs `body` with panics caught and recorded instead of printed; a panic becomes its
/// message.
fn quiet_unwind<R>(body: impl FnOnce() -> R) -> Result<R, String> {
    install_panic_hook();
    let was_inside = IN_C_CALL.with(|flag| flag.replace(true));
    CALLS_RUNNING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let result = catch_unwind(AssertUnwindSafe(body));
    CALLS_RUNNING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    IN_C_CALL.with(|flag| flag.set(was_inside));
    result.map_err(|payload| {
        PANIC_MESSAGE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| payload_text(&*payload))
    })
}

fn mode_from(raw: u32, what: &str) -> Result<Mode, Failure> {
    match raw {
        0 => Ok(Mode::Working),
        1 => Ok(Mode::Native),
        other => Err(invalid(format!(
            "{what} is {other}: use COLORIZE_MODE_WORKING (0) or COLORIZE_MODE_NATIVE (1)"
        ))),
    }
}

unsafe fn options_from(options: *const colorize_options) -> Result<Options<'static>, Failure> {
    if options.is_null() {
        return Ok(Options::default());
    }
    let raw = &*(options as *const RawOptions);
    let options = Options {
        working_size: raw.working_size,
        saturation: raw.saturation,
        mode: mode_from(raw.mode, "options.mode")?,
        tile_size: raw.tile_size,
        ..Options::default()
    };
    options.validate()?;
    Ok(options)
}

/// A C progress callback and its user data, callable from Rust.
struct CProgress {
    callback: unsafe extern "C" fn(f32, *mut c_void) -> bool,
    user_data: *mut c_void,
}

// SAFETY: the library calls a progress callback only on the thread that made the call
// (crate::job::Job is not Sync, so no parallel closure can reach it); the header
// documents that, so the C side needs no synchronisation for its user data.
unsafe impl Sync for CProgress {}

impl CProgress {
    fn call(&self, fraction: f32) -> bool {
        // SAFETY: the caller of colorize_settings_set_progress gave a valid function.
        unsafe { (self.callback)(fraction, self.user_data) }
    }
}

impl colorize_settings {
    fn defaults() -> Self {
        let d = Options::default();
        colorize_settings {
            working_size: d.working_size,
            saturation: d.saturation,
            vividness: d.vividness,
            mode: d.mode,
            tile_size: d.tile_size,
            upsampling: d.upsampling,
            threads: d.threads,
            precision: d.precision,
            progress: None,
            user_data: std::ptr::null_mut(),
        }
    }

    /// These settings as options (no progress callback; see `with_options`).
    fn options(&self) -> Options<'static> {
        Options {
            working_size: self.working_size,
            saturation: self.saturation,
            vividness: self.vividness,
            mode: self.mode,
            tile_size: self.tile_size,
            upsampling: self.upsampling,
            threads: self.threads,
            precision: self.precision,
            progress: None,
        }
    }
}

/// Runs `body` with the options of `settings` (NULL = defaults), progress callback included.
unsafe fn with_options(
    settings: *const colorize_settings,
    body: impl FnOnce(&Options) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let Some(settings) = settings.as_ref() else {
        return body(&Options::default());
    };
    let progress = settings.progress.map(|callback| CProgress {
        callback,
        user_data: settings.user_data,
    });
    let report = |fraction: f32| progress.as_ref().is_none_or(|p| p.call(fraction));
    let options = Options {
        progress: progress.as_ref().map(|_| Progress(&report)),
        ..settings.options()
    };
    options.validate()?;
    body(&options)
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

/// New settings with the defaults: working size 0 (the model's), saturation 1.0, WORKING
/// mode, tile size 0 (the library's), GUIDED upsampling, threads 0 (all cores), precision
/// BF16 (computed in f32 on a CPU without AMX-BF16), no progress callback. NULL only if memory runs out. Release with `colorize_settings_free`.
#[no_mangle]
pub extern "C" fn colorize_settings_new() -> *mut colorize_settings {
    quiet_unwind(|| Box::into_raw(Box::new(colorize_settings::defaults())))
        .unwrap_or(std::ptr::null_mut())
}

/// Releases settings. NULL does nothing.
///
/// # Safety
/// `settings` is NULL or from `colorize_settings_new`, not yet freed, and not in use by a
/// running call.
#[no_mangle]
pub unsafe extern "C" fn colorize_settings_free(settings: *mut colorize_settings) {
    if !settings.is_null() {
        let _ = quiet_unwind(|| drop(Box::from_raw(settings)));
    }
}

/// Changes one setting after checking the result with the same checks as every call;
/// on failure the settings are unchanged.
unsafe fn set(
    settings: *mut colorize_settings,
    change: impl FnOnce(&mut colorize_settings) -> Result<(), Failure>,
) -> colorize_status {
    guard(|| {
        let settings = settings.as_mut().ok_or_else(|| null("settings"))?;
        let mut changed = colorize_settings { ..*settings };
        change(&mut changed)?;
        changed.options().validate()?;
        *settings = changed;
        Ok(())
    })
}

/// Short side the network runs at in WORKING mode: 0 (default) = the model's train size,
/// else up to 8192. COLORIZE_ERROR_INVALID_ARGUMENT over that.
///
/// # Safety
/// `settings` is NULL or a live settings object.
#[no_mangle]
pub unsafe extern "C" fn colorize_settings_set_working_size(
    settings: *mut colorize_settings,
    working_size: u32,
) -> colorize_status {
    set(settings, |s| {
        s.working_size = working_size;
        Ok(())
    })
}

/// Multiplies a*, b*: 1.0 (default) = as predicted, 0 = grey. Finite and >= 0, else
/// COLORIZE_ERROR_INVALID_ARGUMENT.
///
/// # Safety
/// `settings` is NULL or a live settings object.
#[no_mangle]
pub unsafe extern "C" fn colorize_settings_set_saturation(
    settings: *mut colorize_settings,
    saturation: f32,
) -> colorize_status {
    set(settings, |s| {
        s.saturation = saturation;
        Ok(())
    })
}

/// How vivid a classification model's colours are: 0 (default) = the model's own default
/// (see `colorize_model_default_vividness`), else from 0.1 to 10, the inverse of the
/// softmax temperature of its annealed-mean decoding: 1 = the mean of the predicted colour
/// distribution (muted), higher = nearer the most likely colour (vivid, patchier). Out of
/// range: COLORIZE_ERROR_INVALID_ARGUMENT here. A regression model (such as "general") has
/// no vividness: a call with a value other than 0 fails with COLORIZE_ERROR_INVALID_ARGUMENT.
///
/// # Safety
/// `settings` is NULL or a live settings object.
#[no_mangle]
pub unsafe extern "C" fn colorize_settings_set_vividness(
    settings: *mut colorize_settings,
    vividness: f32,
) -> colorize_status {
    set(settings, |s| {
        s.vividness = vividness;
        Ok(())
    })
}

/// WORKING (default) or NATIVE; any other value is COLORIZE_ERROR_INVALID_ARGUMENT.
///
/// # Safety
/// `settings` is NULL or a live settings object.
#[no_mangle]
pub unsafe extern "C" fn colorize_settings_set_mode(
    settings: *mut colorize_settings,
    mode: RawMode,
) -> colorize_status {
    set(settings, |s| {
        s.mode = mode_from(mode.0, "mode")?;
        Ok(())
    })
}

/// NATIVE-mode tile side in pixels: 0 (default) = the library's 512, else 16 to 8192.
///
/// # Safety
/// `settings` is NULL or a live settings object.
#[no_mangle]
pub unsafe extern "C" fn colorize_settings_set_tile_size(
    settings: *mut colorize_settings,
    tile_size: u32,
) -> colorize_status {
    set(settings, |s| {
        s.tile_size = tile_size;
        Ok(())
    })
}

/// GUIDED (default) or BILINEAR; any other value is COLORIZE_ERROR_INVALID_ARGUMENT.
///
/// # Safety
/// `settings` is NULL or a live settings object.
#[no_mangle]
pub unsafe extern "C" fn colorize_settings_set_upsampling(
    settings: *mut colorize_settings,
    upsampling: RawUpsampling,
) -> colorize_status {
    set(settings, |s| {
        s.upsampling = match upsampling.0 {
            0 => Upsampling::Bilinear,
            1 => Upsampling::Guided,
            other => {
                return Err(invalid(format!(
                    "upsampling is {other}: use COLORIZE_UPSAMPLING_BILINEAR (0) or \
                     COLORIZE_UPSAMPLING_GUIDED (1)"
                )))
            }
        };
        Ok(())
    })
}

/// Arithmetic of the network's matrix products: COLORIZE_PRECISION_F32 or
/// COLORIZE_PRECISION_BF16 (the default is the library's, see colorize_settings_new).
///
/// # Safety
/// `settings` is NULL or a live settings object.
#[no_mangle]
pub unsafe extern "C" fn colorize_settings_set_precision(
    settings: *mut colorize_settings,
    precision: RawPrecision,
) -> colorize_status {
    set(settings, |s| {
        s.precision = precision.get()?;
        Ok(())
    })
}

/// Whether this CPU runs `precision` as asked: true for COLORIZE_PRECISION_F32; for
/// COLORIZE_PRECISION_BF16, whether it has AMX-BF16 (without, bf16 calls compute in f32).
/// False for a value that is not a colorize_precision.
#[no_mangle]
pub extern "C" fn colorize_precision_runs_natively(precision: RawPrecision) -> bool {
    precision.get().is_ok_and(|p| p.runs_natively())
}

/// Worker threads of each call: 0 (default) = one per core, shared by all calls; N (up to
/// 1024) = a pool of N threads, started on first use and kept for the process's life.
///
/// # Safety
/// `settings` is NULL or a live settings object.
#[no_mangle]
pub unsafe extern "C" fn colorize_settings_set_threads(
    settings: *mut colorize_settings,
    threads: u32,
) -> colorize_status {
    set(settings, |s| {
        s.threads = threads;
        Ok(())
    })
}

/// A progress callback for each call with these settings (NULL = none, the default), and
/// the `user_data` passed to it. See `colorize_progress_fn` for when it is called.
///
/// # Safety
/// `settings` is NULL or a live settings object; `progress` is NULL or a function that
/// stays callable while the settings are used; `user_data` is anything it accepts.
#[no_mangle]
pub unsafe extern "C" fn colorize_settings_set_progress(
    settings: *mut colorize_settings,
    progress: colorize_progress_fn,
    user_data: *mut c_void,
) -> colorize_status {
    set(settings, |s| {
        s.progress = progress;
        s.user_data = user_data;
        Ok(())
    })
}

unsafe fn store_model(out: *mut *mut colorize_model, model: Model) {
    let c_metadata = model
        .metadata_entries()
        .filter_map(|(k, v)| Some((k.to_string(), CString::new(v).ok()?)))
        .collect();
    *out = Box::into_raw(Box::new(colorize_model { model, c_metadata }));
}

/// Loads a model by the one rule shared by the `colorize` command and the GIMP plug-ins:
/// a value that contains `/` or ends in `.onnx` is a file path; anything else is a model
/// name (`default`, an embedded model, or NAME.onnx in a model folder: those of
/// COLORIZE_MODEL_PATH, then `$XDG_DATA_HOME/colorize/models` (by default
/// `~/.local/share/colorize/models`), then `colorize/models` under each `$XDG_DATA_DIRS`
/// folder (by default `/usr/local/share` and `/usr/share`, where packages install them)). So
/// a file in the working folder is loaded as `./NAME.onnx`, never by a bare name. On
/// success `*out` receives a handle to free with `colorize_model_free`; on failure `*out`
/// is not written (COLORIZE_ERROR_NO_MODEL for an unknown name, COLORIZE_ERROR_MODEL_LOAD
/// for a missing or unreadable file).
///
/// # Safety
/// `name_or_path` is a NUL-terminated string; `out` points to writable storage for one
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn colorize_model_load(
    name_or_path: *const c_char,
    out: *mut *mut colorize_model,
) -> colorize_status {
    guard(|| {
        let value = c_str(name_or_path, "name_or_path")?;
        if out.is_null() {
            return Err(null("out"));
        }
        let value = value.to_str().map_err(|_| {
            invalid("the model name or path is not valid UTF-8 (load such a file with colorize_model_load_file)".to_string())
        })?;
        store_model(out, Model::from_name_or_path(value)?);
        Ok(())
    })
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

/// Loads a model by name only: `default`, an embedded model, or NAME.onnx in a model
/// folder (searched in the order `colorize_model_load` gives). COLORIZE_ERROR_NO_MODEL if
/// there is none of that name.
/// (`colorize_model_load` also takes paths.)
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
/// `model` is NULL or a handle from `colorize_model_load*` not yet freed, and no other
/// thread is using it.
#[no_mangle]
pub unsafe extern "C" fn colorize_model_free(model: *mut colorize_model) {
    if !model.is_null() {
        let _ = quiet_unwind(|| drop(Box::from_raw(model)));
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
    quiet_unwind(|| {
        let key = CStr::from_ptr(key).to_str().ok()?;
        (*model).c_metadata.get(key).map(|v| v.as_ptr())
    })
    .ok()
    .flatten()
    .unwrap_or(std::ptr::null())
}

/// The vividness a classification model uses when the settings leave it at 0, or 0 for a
/// regression model (which takes no vividness) and for a NULL model.
///
/// # Safety
/// `model` is a live handle or NULL.
#[no_mangle]
pub unsafe extern "C" fn colorize_model_default_vividness(model: *const colorize_model) -> f32 {
    if model.is_null() {
        return 0.0;
    }
    quiet_unwind(|| (*model).model.default_vividness().unwrap_or(0.0)).unwrap_or(0.0)
}

/// A C string with the same text as `text`, kept for the process's life: each distinct
/// text is stored once, so repeated listings do not grow memory.
fn interned(text: &str) -> *const c_char {
    static STRINGS: OnceLock<Mutex<HashSet<&'static CStr>>> = OnceLock::new();
    let Ok(c) = CString::new(text) else {
        return std::ptr::null();
    };
    let mut strings = STRINGS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(kept) = strings.get(c.as_c_str()) {
        return kept.as_ptr();
    }
    let kept: &'static CStr = Box::leak(c.into_boxed_c_str());
    strings.insert(kept);
    kept.as_ptr()
}

/// The model list as of the last `colorize_model_count`: embedded names, then installed.
static MODEL_LIST: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn current_model_list() -> Vec<String> {
    let mut names: Vec<String> = available_models().iter().map(|n| n.to_string()).collect();
    for (name, _) in installed_models() {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The name at `index` of the list taken by the last `colorize_model_count` (taken now if
/// there was none).
fn listed_model(index: usize) -> Option<String> {
    let mut list = MODEL_LIST.lock().unwrap_or_else(|e| e.into_inner());
    if list.is_empty() {
        *list = current_model_list();
    }
    list.get(index).cloned()
}

/// How many models can be loaded by name: those embedded in this build (sorted), then the
/// NAME.onnx files of the model folders `colorize_model_load` searches (sorted by name; a
/// name already embedded, or in a folder searched earlier, is listed once). Each call looks
/// at the folders again; `colorize_model_name_at` and `colorize_model_metadata_at` index the
/// list as of the last call of this function.
#[no_mangle]
pub extern "C" fn colorize_model_count() -> usize {
    quiet_unwind(|| {
        let list = current_model_list();
        let count = list.len();
        *MODEL_LIST.lock().unwrap_or_else(|e| e.into_inner()) = list;
        count
    })
    .unwrap_or(0)
}

/// The name of model `index` (0 .. count - 1), for `colorize_model_load`; NULL past the
/// end. The string is kept by the library for the life of the process.
#[no_mangle]
pub extern "C" fn colorize_model_name_at(index: usize) -> *const c_char {
    quiet_unwind(|| listed_model(index).map(|name| interned(&name)))
        .ok()
        .flatten()
        .unwrap_or(std::ptr::null())
}

/// A metadata value (e.g. "colorize.category") of model `index`, loading the model if
/// it is not loaded yet; NULL past the end, if the key is absent or NULL, or if the model
/// cannot be loaded. The string is kept by the library for the life of the process.
///
/// # Safety
/// `key` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn colorize_model_metadata_at(
    index: usize,
    key: *const c_char,
) -> *const c_char {
    if key.is_null() {
        return std::ptr::null();
    }
    quiet_unwind(|| {
        let key = CStr::from_ptr(key).to_str().ok()?;
        let model = Model::from_name(&listed_model(index)?).ok()?;
        model.metadata(key).map(interned)
    })
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
    colorize_run_l_channel(
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

#[allow(clippy::too_many_arguments)]
unsafe fn l_channel(
    model: *const colorize_model,
    options: &Options,
    l: *const f32,
    width: usize,
    height: usize,
    l_stride: usize,
    ab: *mut f32,
    ab_stride: usize,
) -> Result<(), Failure> {
    if l.is_null() {
        return Err(null("l"));
    }
    if ab.is_null() {
        return Err(null("ab"));
    }
    let l_len = required_len(width, height, l_stride, 1)?;
    let ab_len = required_len(width, height, ab_stride, 2)?;
    if overlaps(l, l_len, ab, ab_len) {
        return Err(invalid("the l and ab buffers overlap".to_string()));
    }
    let model = model_from(model)?;
    let l = std::slice::from_raw_parts(l, l_len);
    let ab = std::slice::from_raw_parts_mut(ab, ab_len);
    crate::colorize_l(&model, options, l, width, height, l_stride, ab, ab_stride)?;
    Ok(())
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
        let options = options_from(options)?;
        l_channel(model, &options, l, width, height, l_stride, ab, ab_stride)
    })
}

/// As `colorize_l_channel` with a model (NULL = the embedded default) and settings (NULL =
/// defaults): progress, cancel and threads included.
///
/// # Safety
/// As `colorize_l_channel`; `model` is NULL or a live handle; `settings` NULL or live.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn colorize_run_l_channel(
    model: *const colorize_model,
    settings: *const colorize_settings,
    l: *const f32,
    width: usize,
    height: usize,
    l_stride: usize,
    ab: *mut f32,
    ab_stride: usize,
) -> colorize_status {
    guard(|| {
        with_options(settings, |options| {
            l_channel(model, options, l, width, height, l_stride, ab, ab_stride)
        })
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
        return Err(invalid(format!(
            "channels is {channels}, it must be 3 (RGB) or 4 (RGBA)"
        )));
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

/// The three pixel formats of the in-place calls.
trait Sample: Sized {
    /// Colorizes `pixels` with the safe API's function for this sample type.
    #[allow(clippy::too_many_arguments)]
    fn colorize(
        model: &Model,
        options: &Options,
        pixels: &mut [Self],
        width: usize,
        height: usize,
        stride: usize,
        channels: usize,
        linear: bool,
    ) -> crate::Result<()>;
}

impl Sample for u8 {
    fn colorize(
        m: &Model,
        o: &Options,
        p: &mut [u8],
        w: usize,
        h: usize,
        s: usize,
        c: usize,
        _: bool,
    ) -> crate::Result<()> {
        crate::colorize_rgb8(m, o, p, w, h, s, c)
    }
}

impl Sample for u16 {
    fn colorize(
        m: &Model,
        o: &Options,
        p: &mut [u16],
        w: usize,
        h: usize,
        s: usize,
        c: usize,
        _: bool,
    ) -> crate::Result<()> {
        crate::colorize_rgb16(m, o, p, w, h, s, c)
    }
}

impl Sample for f32 {
    fn colorize(
        m: &Model,
        o: &Options,
        p: &mut [f32],
        w: usize,
        h: usize,
        s: usize,
        c: usize,
        linear: bool,
    ) -> crate::Result<()> {
        crate::colorize_rgb_float(m, o, p, w, h, s, c, linear)
    }
}

/// An in-place call of any sample type, with options from `options` or from `settings`.
enum Given {
    Options(*const colorize_options),
    Settings(*const colorize_settings),
}

#[allow(clippy::too_many_arguments)]
unsafe fn run_in_place<T: Sample>(
    model: *const colorize_model,
    given: Given,
    pixels: *mut T,
    width: usize,
    height: usize,
    stride: usize,
    channels: usize,
    linear: bool,
) -> colorize_status {
    let body = |options: &Options| {
        in_place(pixels, width, height, stride, channels, |buf| {
            let model = model_from(model)?;
            T::colorize(
                &model, options, buf, width, height, stride, channels, linear,
            )?;
            Ok(())
        })
    };
    guard(|| match given {
        Given::Options(options) => body(&options_from(options)?),
        Given::Settings(settings) => with_options(settings, body),
    })
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
    run_in_place(
        model,
        Given::Options(options),
        pixels,
        width,
        height,
        stride,
        channels,
        false,
    )
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
    run_in_place(
        model,
        Given::Options(options),
        pixels,
        width,
        height,
        stride,
        channels,
        false,
    )
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
    run_in_place(
        model,
        Given::Options(options),
        pixels,
        width,
        height,
        stride,
        channels,
        linear,
    )
}

/// As `colorize_rgb8` with settings (NULL = defaults) instead of options: progress,
/// cancel, threads and upsampling included.
///
/// # Safety
/// As `colorize_rgb8`; `settings` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn colorize_run_rgb8(
    model: *const colorize_model,
    settings: *const colorize_settings,
    pixels: *mut u8,
    width: usize,
    height: usize,
    stride: usize,
    channels: usize,
) -> colorize_status {
    run_in_place(
        model,
        Given::Settings(settings),
        pixels,
        width,
        height,
        stride,
        channels,
        false,
    )
}

/// As `colorize_rgb16` with settings (NULL = defaults) instead of options.
///
/// # Safety
/// As `colorize_rgb16`; `settings` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn colorize_run_rgb16(
    model: *const colorize_model,
    settings: *const colorize_settings,
    pixels: *mut u16,
    width: usize,
    height: usize,
    stride: usize,
    channels: usize,
) -> colorize_status {
    run_in_place(
        model,
        Given::Settings(settings),
        pixels,
        width,
        height,
        stride,
        channels,
        false,
    )
}

/// As `colorize_rgb_float` with settings (NULL = defaults) instead of options.
///
/// # Safety
/// As `colorize_rgb_float`; `settings` is NULL or live.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn colorize_run_rgb_float(
    model: *const colorize_model,
    settings: *const colorize_settings,
    pixels: *mut f32,
    width: usize,
    height: usize,
    stride: usize,
    channels: usize,
    linear: bool,
) -> colorize_status {
    run_in_place(
        model,
        Given::Settings(settings),
        pixels,
        width,
        height,
        stride,
        channels,
        linear,
    )
}

/// The message of the last failed call on this thread ("" after a successful one). Owned
/// by the library, valid until the next call on this thread. Never NULL.
#[no_mangle]
pub extern "C" fn colorize_last_error() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

/// A static description of a status code, given as a plain integer so that any value is
/// safe: one this library does not know gives "unknown status". Never NULL.
#[no_mangle]
pub extern "C" fn colorize_status_str(status: c_int) -> *const c_char {
    let text: &'static CStr = match status {
        0 => c"ok",
        1 => c"a required pointer is NULL",
        2 => c"invalid argument",
        3 => c"no such model (no embedded default, or unknown name)",
        4 => c"the model cannot be read (not valid ONNX)",
        5 => c"the model breaks the colorize model contract",
        6 => c"the network failed to run",
        7 => c"input/output error",
        8 => c"size overflow or over a limit",
        9 => c"internal error (a bug caught at the C boundary)",
        10 => c"cancelled by the progress callback",
        _ => c"unknown status",
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
