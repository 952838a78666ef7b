//! The checks behind the fuzz targets, shared with `tests/fuzz_regressions.rs` (which
//! includes this file with `#[path]`), so that every crash input kept under
//! `tests/fuzz-cases/` is replayed by `cargo test` through exactly the code that found it.
//!
//! One entry point per fuzz target:
//! - [`capi`]: the C ABI (`colorize_l_channel*`, `colorize_rgb8/16/_float`) called through
//!   real `extern "C"` declarations with arbitrary sizes, strides, channels, options and
//!   values. Buffers are allocated at exactly the size the call may touch, so that any read
//!   or write past it is caught by AddressSanitizer; sizes that overflow get a tiny buffer
//!   and must be refused without touching it.
//! - [`model_load`]: `colorize_model_load_memory` on arbitrary bytes; a model that loads is
//!   also run on a small image.
//! - [`model_shape`]: a model built from the fuzz bytes by the project's builder: its
//!   `colorize.*` metadata (any number or text) and constants that tract would fold
//!   (ConstantOfShape, Expand, Tile, Range, Resize, Pad, broadcasts, Gather, stored tensors
//!   that lie about their size), then loaded and run as in [`model_load`]. Structured, so
//!   the fuzzer reaches the size limits of `Model::from_bytes` that raw bytes rarely do.
//! - [`decode`]: the CLI's decode path (`colorize::io::decode_bytes` with limits, then
//!   `colorize_image` and encoding) on arbitrary bytes.
//! - [`cli::metadata`] and [`cli::encoders`]: the CLI's metadata read-and-write path and
//!   its output encoders (in `cli.rs`).
//!
//! Every function panics (= a crash for libFuzzer, a failure for `cargo test`) when an
//! invariant breaks: a panic caught at the C boundary, a buffer written on failure, stride
//! padding or alpha touched, an invalid call accepted, a valid call refused.
#![allow(clippy::missing_safety_doc)]

use std::ffi::{c_char, CStr};
use std::sync::OnceLock;

use colorize::contract::keys;

#[path = "../../src/bin/colorize/jpeg.rs"]
pub mod jpeg;
/// The `colorize` command's own modules, compiled here from its sources exactly as the
/// binary compiles them (`metadata` names the other two as `crate::profile` and
/// `crate::jpeg`, so they sit at this crate's root; its own submodules are found beside
/// its `mod.rs`). When the command moves into a crate of its own, these three become uses
/// of that crate's modules.
#[path = "../../src/bin/colorize/metadata/mod.rs"]
pub mod metadata;
#[path = "../../src/bin/colorize/profile.rs"]
pub mod profile;

/// The checks of the `metadata` and `encoders` targets.
#[path = "cli.rs"]
pub mod cli;

/// The C ABI as a C caller sees it. Status and enums are plain integers here, so that the
/// fuzzer can pass values that are not valid enumerators (as C may).
pub mod c {
    use std::ffi::c_char;
    #[repr(C)]
    pub struct Model {
        _opaque: [u8; 0],
    }
    /// Same layout as `colorize_options` with `mode` as an integer.
    #[repr(C)]
    pub struct Options {
        pub working_size: u32,
        pub saturation: f32,
        pub mode: u32,
        pub tile_size: u32,
    }
    extern "C" {
        pub fn colorize_model_load_named(name: *const c_char, out: *mut *mut Model) -> u32;
        pub fn colorize_model_load_memory(data: *const u8, len: usize, out: *mut *mut Model)
            -> u32;
        pub fn colorize_model_free(model: *mut Model);
        pub fn colorize_model_metadata(model: *const Model, key: *const c_char) -> *const c_char;
        pub fn colorize_l_channel_with_model(
            model: *const Model,
            options: *const Options,
            l: *const f32,
            width: usize,
            height: usize,
            l_stride: usize,
            ab: *mut f32,
            ab_stride: usize,
        ) -> u32;
        pub fn colorize_rgb8(
            model: *const Model,
            options: *const Options,
            pixels: *mut u8,
            width: usize,
            height: usize,
            stride: usize,
            channels: usize,
        ) -> u32;
        pub fn colorize_rgb16(
            model: *const Model,
            options: *const Options,
            pixels: *mut u16,
            width: usize,
            height: usize,
            stride: usize,
            channels: usize,
        ) -> u32;
        pub fn colorize_rgb_float(
            model: *const Model,
            options: *const Options,
            pixels: *mut f32,
            width: usize,
            height: usize,
            stride: usize,
            channels: usize,
            linear: bool,
        ) -> u32;
        pub fn colorize_last_error() -> *const c_char;
        pub fn colorize_status_str(status: u32) -> *const c_char;
    }
}

const OK: u32 = 0;
const NO_MODEL: u32 = 3;
const PANIC: u32 = 9;

/// Largest buffer (elements) the harness allocates; bigger valid sizes are not called.
const MAX_ELEMENTS: usize = 1 << 20;
/// Side of the images the small regime makes (0..=MAX_SIDE).
const MAX_SIDE: u64 = 48;

/// Reads fuzz bytes as numbers; zeros once exhausted.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    fn rest(&self) -> &'a [u8] {
        self.data
    }
}

/// Test models (made with `colorize::onnx`), loaded once through the C ABI and never freed.
struct Models([usize; 4]);

fn models() -> &'static Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS.get_or_init(|| {
        use colorize::onnx::test_models;
        // a*, b* = gains x (block mean of L* - 50) at 1/stride resolution; the fixed one
        // only takes 16 x 16 (colorize.input_size): the engine resizes to it.
        let all = [
            colorize::onnx::linear_test_model(0.5, -0.25),
            test_models::strided(2, 4, 24, 0.6, -0.4).to_bytes(),
            test_models::strided(4, 8, 24, 0.6, -0.4).to_bytes(),
            test_models::fixed_size(16, 0.5, -0.5).to_bytes(),
        ];
        Models(all.map(|bytes| {
            let mut out = std::ptr::null_mut();
            let status =
                unsafe { c::colorize_model_load_memory(bytes.as_ptr(), bytes.len(), &mut out) };
            assert_eq!(status, OK, "test model refused: {}", last_error());
            out as usize
        }))
    })
}

fn last_error() -> String {
    let p = unsafe { c::colorize_last_error() };
    assert!(!p.is_null(), "colorize_last_error returned NULL");
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The status is a known value, never PANIC, and the message agrees with it.
fn check_status(status: u32, call: &str) {
    assert!(status <= PANIC, "{call}: unknown status {status}");
    let text = unsafe { CStr::from_ptr(c::colorize_status_str(status)) };
    assert!(!text.to_bytes().is_empty());
    let message = last_error();
    assert_ne!(
        status, PANIC,
        "{call}: panic caught at the C boundary: {message}"
    );
    if status == OK {
        assert!(
            message.is_empty(),
            "{call}: OK but last error is '{message}'"
        );
    } else {
        assert!(
            !message.is_empty(),
            "{call}: status {status} without a message"
        );
    }
}

/// Elements a `width` x `height` x `channels` buffer with `stride` spans, if it fits the
/// address space (computed independently of the library); Err(()) on zero sizes or a
/// stride shorter than a row, None on overflow.
fn span(
    width: usize,
    height: usize,
    stride: usize,
    channels: usize,
    elem: usize,
) -> Result<Option<usize>, ()> {
    if width == 0 || height == 0 {
        return Err(());
    }
    let Some(row) = width.checked_mul(channels) else {
        return Ok(None);
    };
    if stride < row {
        return Err(());
    }
    Ok((height - 1)
        .checked_mul(stride)
        .and_then(|n| n.checked_add(row))
        .filter(|n| {
            n.checked_mul(elem.max(4))
                .is_some_and(|b| b <= isize::MAX as usize)
        }))
}

/// Element indices of the row padding (between the written part of each row and the next
/// row's start), which a call must never write.
fn is_padding(i: usize, stride: usize, row: usize) -> bool {
    i % stride >= row
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Entry {
    LChannel,
    Rgb8,
    Rgb16,
    RgbFloat { linear: bool },
}

/// One C ABI call described by the fuzz bytes. See the module doc.
pub fn capi(data: &[u8]) {
    let mut r = Reader { data };
    let entry = match r.u8() % 5 {
        0 => Entry::LChannel,
        1 => Entry::Rgb8,
        2 => Entry::Rgb16,
        3 => Entry::RgbFloat { linear: false },
        _ => Entry::RgbFloat { linear: true },
    };
    let model_choice = r.u8() % 5;
    let flags = r.u8();
    let (null_options, huge, short_stride, raw_channels, raw_values, overlap) = (
        flags & 1 != 0,
        flags & 2 != 0,
        flags & 4 != 0,
        flags & 8 != 0,
        flags & 16 != 0,
        flags & 32 != 0,
    );
    let dim = |r: &mut Reader| -> usize {
        if huge {
            r.u64() as usize
        } else {
            (u64::from(r.u8()) % (MAX_SIDE + 1)) as usize
        }
    };
    let width = dim(&mut r);
    let height = dim(&mut r);
    let channels = match entry {
        Entry::LChannel => 1,
        _ if raw_channels => r.u8() as usize,
        _ => 3 + (r.u8() & 1) as usize,
    };
    let stride_for = |r: &mut Reader, per_pixel: usize| -> usize {
        if huge {
            r.u64() as usize
        } else {
            let row = width * per_pixel;
            let extra = (r.u8() % 8) as usize;
            if short_stride {
                row.saturating_sub(1 + extra)
            } else {
                row + extra
            }
        }
    };
    let stride = stride_for(&mut r, channels);
    let ab_stride = stride_for(&mut r, 2);

    // Options: mostly valid, sometimes out of range (which must be refused).
    let working_size = match r.u32() {
        w if w > colorize::MAX_NETWORK_SIDE as u32 => w,
        w => w % 97,
    };
    let saturation = match r.u8() {
        0..=199 => f32::from(r.u8()) / 64.0,
        _ => f32::from_bits(r.u32()),
    };
    let mode = match r.u8() {
        0..=127 => 0,
        128..=249 => 1,
        _ => r.u32(),
    };
    let tile_size = match r.u32() {
        t if t > colorize::MAX_NETWORK_SIDE as u32 => t,
        t if t % 3 == 0 => 0,
        t => t % 80,
    };
    let options = c::Options {
        working_size,
        saturation,
        mode,
        tile_size,
    };
    let options_valid = null_options
        || (mode <= 1
            && saturation.is_finite()
            && saturation >= 0.0
            && working_size as usize <= colorize::MAX_NETWORK_SIDE
            && (tile_size == 0 || (16..=colorize::MAX_NETWORK_SIDE as u32).contains(&tile_size)));
    let options_ptr: *const c::Options = if null_options {
        std::ptr::null()
    } else {
        &options
    };
    let model: *const c::Model = match model_choice {
        0 => std::ptr::null(),
        i => models().0[i as usize - 1] as *const c::Model,
    };
    let model_valid = !model.is_null() || colorize::default_model_name().is_some();
    // The default model (if embedded) is a real network: keep its calls small.
    if model.is_null() && colorize::default_model_name().is_some() && width.max(height) > 16 {
        return;
    }
    let values = r.rest();
    let byte = |i: usize| values.get(i % values.len().max(1)).copied().unwrap_or(128);

    let elem = match entry {
        Entry::Rgb8 => 1,
        Entry::Rgb16 => 2,
        _ => 4,
    };
    let geometry_valid = (1..=4).contains(&channels) && (entry == Entry::LChannel || channels >= 3);
    let main_span = span(width, height, stride, channels.max(1), elem);
    let ab_span = span(width, height, ab_stride, 2, 4);
    // A valid size bigger than we allocate: the library may rightly use all of it.
    let too_big = |s: &Result<Option<usize>, ()>| matches!(s, Ok(Some(n)) if *n > MAX_ELEMENTS);
    if too_big(&main_span) || (entry == Entry::LChannel && too_big(&ab_span)) {
        return;
    }
    let len_of = |s: &Result<Option<usize>, ()>| match s {
        Ok(Some(n)) => *n,
        _ => 16, // invalid or overflowing: a tiny buffer that must not be touched
    };
    let sizes_valid = matches!(main_span, Ok(Some(_)))
        && (entry != Entry::LChannel || matches!(ab_span, Ok(Some(_))))
        && geometry_valid;

    let name = format!(
        "{entry:?} {width}x{height} stride {stride} ab_stride {ab_stride} channels {channels}"
    );
    match entry {
        Entry::LChannel => {
            let l_len = len_of(&main_span);
            let ab_len = len_of(&ab_span);
            let l: Vec<f32> = (0..l_len)
                .map(|i| {
                    if raw_values {
                        f32::from_bits(u32::from_le_bytes([
                            byte(4 * i),
                            byte(4 * i + 1),
                            byte(4 * i + 2),
                            byte(4 * i + 3),
                        ]))
                    } else {
                        f32::from(byte(i)) * (100.0 / 255.0)
                    }
                })
                .collect();
            // Only meaningful (and only computed) when the sizes fit the buffer.
            let values_valid = matches!(main_span, Ok(Some(_)))
                && (0..height)
                    .all(|y| (0..width).all(|x| (-0.5..=100.5).contains(&l[y * stride + x])));
            // Either two buffers, or (overlap) both inside one, ab starting one float after
            // l (at l itself when l is one float), so that they always share memory.
            let offset = usize::from(l_len > 1);
            let mut one = vec![
                -7.0f32;
                if overlap {
                    l_len.max(offset + ab_len)
                } else {
                    0
                }
            ];
            let mut ab = vec![-7.0f32; ab_len];
            let (l_ptr, ab_ptr) = if overlap {
                one[..l_len].copy_from_slice(&l);
                let base = one.as_mut_ptr();
                (base as *const f32, unsafe { base.add(offset) })
            } else {
                (l.as_ptr(), ab.as_mut_ptr())
            };
            let before_one = one.clone();
            let status = unsafe {
                c::colorize_l_channel_with_model(
                    model,
                    options_ptr,
                    l_ptr,
                    width,
                    height,
                    stride,
                    ab_ptr,
                    ab_stride,
                )
            };
            check_status(status, &name);
            let expected_ok =
                sizes_valid && options_valid && model_valid && values_valid && !overlap;
            if !(sizes_valid && options_valid && values_valid && !overlap) {
                assert_ne!(status, OK, "{name}: invalid call accepted");
            }
            if !model_valid && sizes_valid && options_valid && values_valid && !overlap {
                assert_eq!(status, NO_MODEL, "{name}");
            }
            if expected_ok {
                assert_eq!(status, OK, "{name}: valid call refused: {}", last_error());
            }
            if overlap {
                assert!(
                    one.iter()
                        .zip(&before_one)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{name}: overlapping buffers written"
                );
                return;
            }
            if status == OK {
                for (i, v) in ab.iter().enumerate() {
                    if is_padding(i, ab_stride, 2 * width) {
                        assert_eq!(
                            v.to_bits(),
                            (-7.0f32).to_bits(),
                            "{name}: ab padding {i} written"
                        );
                    } else {
                        assert!(v.is_finite(), "{name}: a*b* {i} is {v}");
                    }
                }
            } else {
                assert!(
                    ab.iter().all(|v| v.to_bits() == (-7.0f32).to_bits()),
                    "{name}: ab written on failure"
                );
            }
        }
        Entry::Rgb8 | Entry::Rgb16 | Entry::RgbFloat { .. } => {
            let len = len_of(&main_span);
            let ch = channels.max(1);
            let row = width.saturating_mul(ch);
            // Alpha and padding are recognisable; colour samples come from the fuzz bytes.
            let sample = |i: usize| -> u8 { byte(i) };
            macro_rules! run {
                ($buf:expr, $call:expr, $same:expr) => {{
                    let mut buf = $buf;
                    let before = buf.clone();
                    let status = unsafe { $call(buf.as_mut_ptr()) };
                    check_status(status, &name);
                    (status, buf, before)
                }};
            }
            let (status, changed_ok, values_valid) = match entry {
                Entry::Rgb8 => {
                    let (status, buf, before) = run!(
                        (0..len).map(sample).collect::<Vec<u8>>(),
                        |p| c::colorize_rgb8(
                            model,
                            options_ptr,
                            p,
                            width,
                            height,
                            stride,
                            channels
                        ),
                        ()
                    );
                    (
                        status,
                        check_in_place(&buf, &before, status, stride, row, ch, &name),
                        true,
                    )
                }
                Entry::Rgb16 => {
                    let (status, buf, before) = run!(
                        (0..len)
                            .map(|i| u16::from_le_bytes([sample(2 * i), sample(2 * i + 1)]))
                            .collect::<Vec<u16>>(),
                        |p| c::colorize_rgb16(
                            model,
                            options_ptr,
                            p,
                            width,
                            height,
                            stride,
                            channels
                        ),
                        ()
                    );
                    (
                        status,
                        check_in_place(&buf, &before, status, stride, row, ch, &name),
                        true,
                    )
                }
                Entry::RgbFloat { linear } => {
                    let pixels: Vec<f32> = (0..len)
                        .map(|i| {
                            if raw_values {
                                f32::from_bits(u32::from_le_bytes([
                                    sample(4 * i),
                                    sample(4 * i + 1),
                                    sample(4 * i + 2),
                                    sample(4 * i + 3),
                                ]))
                            } else {
                                f32::from(sample(i)) / 255.0
                            }
                        })
                        .collect();
                    let valid = pixels.iter().all(|v| (0.0..=1.0).contains(v));
                    let (status, buf, before) = run!(
                        pixels,
                        |p| c::colorize_rgb_float(
                            model,
                            options_ptr,
                            p,
                            width,
                            height,
                            stride,
                            channels,
                            linear
                        ),
                        ()
                    );
                    let bits = |v: &Vec<f32>| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>();
                    let ok =
                        check_in_place(&bits(&buf), &bits(&before), status, stride, row, ch, &name);
                    if status == OK && valid {
                        for (i, v) in buf.iter().enumerate() {
                            if !is_padding(i, stride, row) {
                                assert!(v.is_finite(), "{name}: sample {i} is {v}");
                            }
                        }
                    }
                    (status, ok, valid)
                }
                Entry::LChannel => unreachable!(),
            };
            let _ = changed_ok;
            if !(sizes_valid && options_valid) {
                assert_ne!(status, OK, "{name}: invalid call accepted");
            }
            if sizes_valid && options_valid && !model_valid {
                assert_eq!(status, NO_MODEL, "{name}");
            }
            if sizes_valid && options_valid && model_valid && values_valid {
                assert_eq!(status, OK, "{name}: valid call refused: {}", last_error());
            }
        }
    }
}

/// On failure nothing changed; on success only colour samples changed (no padding, no alpha).
fn check_in_place<T: PartialEq + Copy + std::fmt::Debug>(
    after: &[T],
    before: &[T],
    status: u32,
    stride: usize,
    row: usize,
    channels: usize,
    name: &str,
) -> bool {
    if status != OK {
        assert!(after == before, "{name}: buffer written on failure");
        return false;
    }
    for (i, (a, b)) in after.iter().zip(before).enumerate() {
        let untouchable = is_padding(i, stride, row) || (channels == 4 && (i % stride) % 4 == 3);
        if untouchable {
            assert_eq!(a, b, "{name}: element {i} (padding or alpha) written");
        }
    }
    true
}

fn metadata(model: *const c::Model, key: &CStr) -> Option<String> {
    let p = unsafe { c::colorize_model_metadata(model, key.as_ptr() as *const c_char) };
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// Arbitrary bytes as an ONNX model through `colorize_model_load_memory`.
pub fn model_load(data: &[u8]) {
    let mut out: *mut c::Model = std::ptr::null_mut();
    // A non-NULL pointer even for 0 bytes (an empty slice's pointer is dangling, not NULL).
    let status = unsafe { c::colorize_model_load_memory(data.as_ptr(), data.len(), &mut out) };
    check_status(status, "load_memory");
    assert!(
        matches!(status, 0 | 4 | 5 | 8),
        "load_memory: status {status} ({})",
        last_error()
    );
    if status != OK {
        assert!(out.is_null(), "load_memory wrote *out on failure");
        return;
    }
    assert!(!out.is_null());
    let format = std::ffi::CString::new(keys::FORMAT).unwrap();
    assert_eq!(
        metadata(out, &format).as_deref().map(str::trim),
        Some(colorize::contract::FORMAT_VERSION)
    );
    let _ = metadata(out, c"");
    // Run it on a small image, unless its contract asks for a large input (then running it
    // is legitimately expensive; the contract caps these at 4096).
    let small = |key: &str| {
        let key = std::ffi::CString::new(key).unwrap();
        metadata(out, &key)
            .and_then(|v| v.trim().parse::<usize>().ok())
            .is_none_or(|n| n <= 64)
    };
    if small(keys::PAD_MULTIPLE) && small(keys::INPUT_SIZE) {
        let (w, h) = (9usize, 7usize);
        let l: Vec<f32> = (0..w * h).map(|i| (i * 37 % 101) as f32 * 0.99).collect();
        let mut ab = vec![0f32; 2 * w * h];
        let options = c::Options {
            working_size: 12,
            saturation: 1.0,
            mode: 0,
            tile_size: 0,
        };
        let status = unsafe {
            c::colorize_l_channel_with_model(
                out,
                &options,
                l.as_ptr(),
                w,
                h,
                w,
                ab.as_mut_ptr(),
                2 * w,
            )
        };
        check_status(status, "run loaded model");
        // 5: a plan for this size would fold a constant over the limit.
        assert!(
            matches!(status, 0 | 5 | 6),
            "run loaded model: status {status} ({})",
            last_error()
        );
        // Whatever a*b* the network gives (NaN, infinite, huge), RGB conversion copes.
        let mut rgb: Vec<u8> = (0..w * h * 4).map(|i| (i * 13) as u8).collect();
        let before = rgb.clone();
        let status = unsafe { c::colorize_rgb8(out, &options, rgb.as_mut_ptr(), w, h, 4 * w, 4) };
        check_status(status, "rgb8 with loaded model");
        check_in_place(
            &rgb,
            &before,
            status,
            4 * w,
            4 * w,
            4,
            "rgb8 with loaded model",
        );
    }
    unsafe { c::colorize_model_free(out) };
}

/// How [`model_shape`] reads its bytes, and how the seeds are written (see
/// `tests/fuzz_regressions.rs`): one [`MetadataValue`] per contract key (format, stride,
/// pad multiple, train size, input size), then up to four [`FoldedConstant`]s.
#[derive(Clone, Debug)]
pub enum MetadataValue {
    Absent,
    Number(u32),
    Text(Vec<u8>),
}

/// A constant computed in the graph from small stored constants; see [`model_shape`].
#[derive(Clone, Debug)]
pub enum FoldedConstant {
    /// ConstantOfShape of a stored shape.
    ConstantOfShape(Vec<u32>),
    /// ConstantOfShape of Shape(L) times a factor: folded once the input size is known.
    ScaledInputShape(u32),
    /// Expand of one float to a stored shape.
    Expand(Vec<u32>),
    /// Tile of a [1, 1, 1, 1] float by stored repeats.
    Tile(Vec<u32>),
    /// Range(0, limit, delta) of floats.
    Range { limit: u32, delta: u8 },
    /// Resize of a [1, 1, 2, 2] float by stored scales (sixteenths).
    Resize(Vec<u16>),
    /// Pad of a [1, 1, 2, 2] float by stored pads.
    Pad(Vec<u32>),
    /// [rows, 1] + [1, cols] of stored floats.
    Broadcast { rows: u16, cols: u16 },
    /// A stored float tensor declaring `dims` and holding `bytes` bytes.
    Lying { dims: Vec<u32>, bytes: u8 },
    /// Gather of stored indices from a stored vector.
    Gather { data: u16, indices: u16 },
}

const MAX_CONSTANTS: usize = 4;

impl MetadataValue {
    fn read(r: &mut Reader) -> Self {
        match r.u8() % 4 {
            0 => MetadataValue::Absent,
            1 => MetadataValue::Number(u32::from(r.u8())),
            2 => MetadataValue::Number(r.u32()),
            _ => {
                let len = r.u8() % 8;
                MetadataValue::Text((0..len).map(|_| r.u8()).collect())
            }
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            MetadataValue::Absent => out.push(0),
            MetadataValue::Number(n) if *n < 256 => out.extend([1, *n as u8]),
            MetadataValue::Number(n) => {
                out.push(2);
                out.extend(n.to_le_bytes());
            }
            MetadataValue::Text(t) => {
                out.extend([3, t.len().min(7) as u8]);
                out.extend(&t[..t.len().min(7)]);
            }
        }
    }
}

impl FoldedConstant {
    fn read(r: &mut Reader) -> Self {
        let dims = |r: &mut Reader| -> Vec<u32> { (0..r.u8() % 5).map(|_| r.u32()).collect() };
        match r.u8() % 10 {
            0 => FoldedConstant::ConstantOfShape(dims(r)),
            1 => FoldedConstant::ScaledInputShape(r.u32()),
            2 => FoldedConstant::Expand(dims(r)),
            3 => FoldedConstant::Tile((0..4).map(|_| r.u32()).collect()),
            4 => FoldedConstant::Range {
                limit: r.u32(),
                delta: r.u8(),
            },
            5 => FoldedConstant::Resize(
                (0..4)
                    .map(|_| u16::from_le_bytes([r.u8(), r.u8()]))
                    .collect(),
            ),
            6 => FoldedConstant::Pad((0..8).map(|_| r.u32()).collect()),
            7 => FoldedConstant::Broadcast {
                rows: u16::from_le_bytes([r.u8(), r.u8()]) % 4097,
                cols: u16::from_le_bytes([r.u8(), r.u8()]) % 4097,
            },
            8 => FoldedConstant::Lying {
                dims: dims(r),
                bytes: r.u8(),
            },
            _ => FoldedConstant::Gather {
                data: u16::from_le_bytes([r.u8(), r.u8()]) % 4097,
                indices: u16::from_le_bytes([r.u8(), r.u8()]) % 4097,
            },
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        let dims = |out: &mut Vec<u8>, d: &[u32]| {
            out.push(d.len().min(4) as u8);
            for v in &d[..d.len().min(4)] {
                out.extend(v.to_le_bytes());
            }
        };
        match self {
            FoldedConstant::ConstantOfShape(d) => {
                out.push(0);
                dims(out, d);
            }
            FoldedConstant::ScaledInputShape(f) => {
                out.push(1);
                out.extend(f.to_le_bytes());
            }
            FoldedConstant::Expand(d) => {
                out.push(2);
                dims(out, d);
            }
            FoldedConstant::Tile(d) => {
                out.push(3);
                for i in 0..4 {
                    out.extend(d.get(i).copied().unwrap_or(1).to_le_bytes());
                }
            }
            FoldedConstant::Range { limit, delta } => {
                out.push(4);
                out.extend(limit.to_le_bytes());
                out.push(*delta);
            }
            FoldedConstant::Resize(scales) => {
                out.push(5);
                for i in 0..4 {
                    out.extend(scales.get(i).copied().unwrap_or(16).to_le_bytes());
                }
            }
            FoldedConstant::Pad(pads) => {
                out.push(6);
                for i in 0..8 {
                    out.extend(pads.get(i).copied().unwrap_or(0).to_le_bytes());
                }
            }
            FoldedConstant::Broadcast { rows, cols } => {
                out.push(7);
                out.extend(rows.to_le_bytes());
                out.extend(cols.to_le_bytes());
            }
            FoldedConstant::Lying { dims: d, bytes } => {
                out.push(8);
                dims(out, d);
                out.push(*bytes);
            }
            FoldedConstant::Gather { data, indices } => {
                out.push(9);
                out.extend(data.to_le_bytes());
                out.extend(indices.to_le_bytes());
            }
        }
    }

    /// Adds the constant to the graph and returns its value's name (any shape, any type).
    fn build(&self, g: &mut colorize::onnx::GraphBuilder, input: &str) -> String {
        use colorize::onnx::pb::tensor_proto::DataType;
        let ints = |d: &[u32]| d.iter().map(|&v| i64::from(v)).collect::<Vec<i64>>();
        let float_scalar = |g: &mut colorize::onnx::GraphBuilder, v: f32| {
            g.raw_initializer("scalar", &[], DataType::Float, v.to_le_bytes().to_vec())
        };
        let square = |g: &mut colorize::onnx::GraphBuilder| {
            g.initializer("square", &[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0])
        };
        match self {
            FoldedConstant::ConstantOfShape(d) => {
                let shape = g.initializer_i64("shape", &ints(d));
                g.node("ConstantOfShape", &[&shape], &[])
            }
            FoldedConstant::ScaledInputShape(f) => {
                let shape = g.node("Shape", &[input], &[]);
                let factor = g.initializer_i64("factor", &[i64::from(*f)]);
                let scaled = g.node("Mul", &[&shape, &factor], &[]);
                g.node("ConstantOfShape", &[&scaled], &[])
            }
            FoldedConstant::Expand(d) => {
                let one = g.initializer("one", &[1], &[1.0]);
                let shape = g.initializer_i64("shape", &ints(d));
                g.node("Expand", &[&one, &shape], &[])
            }
            FoldedConstant::Tile(d) => {
                let one = g.initializer("one", &[1, 1, 1, 1], &[1.0]);
                let repeats = g.initializer_i64("repeats", &ints(d));
                g.node("Tile", &[&one, &repeats], &[])
            }
            FoldedConstant::Range { limit, delta } => {
                let start = float_scalar(g, 0.0);
                let limit = float_scalar(g, *limit as f32);
                let delta = float_scalar(g, f32::from(*delta) / 4.0);
                g.node("Range", &[&start, &limit, &delta], &[])
            }
            FoldedConstant::Resize(scales) => {
                let x = square(g);
                let roi = g.initializer("roi", &[0], &[]);
                let scales: Vec<f32> = scales.iter().map(|&s| f32::from(s) / 16.0).collect();
                let scales = g.initializer("scales", &[scales.len() as i64], &scales);
                g.node("Resize", &[&x, &roi, &scales], &[])
            }
            FoldedConstant::Pad(pads) => {
                let x = square(g);
                let pads = g.initializer_i64("pads", &ints(pads));
                g.node("Pad", &[&x, &pads], &[])
            }
            FoldedConstant::Broadcast { rows, cols } => {
                let (rows, cols) = (usize::from(*rows), usize::from(*cols));
                let a = g.initializer("rows", &[rows as i64, 1], &vec![1.0; rows]);
                let b = g.initializer("cols", &[1, cols as i64], &vec![2.0; cols]);
                g.node("Add", &[&a, &b], &[])
            }
            FoldedConstant::Lying { dims: d, bytes } => {
                g.raw_initializer("lying", &ints(d), DataType::Float, vec![0; *bytes as usize])
            }
            FoldedConstant::Gather { data, indices } => {
                let values: Vec<f32> = (0..*data).map(f32::from).collect();
                let data_name = g.initializer("data", &[values.len() as i64], &values);
                let picks: Vec<i64> = (0..*indices)
                    .map(|i| i64::from(i) % i64::from((*data).max(1)))
                    .collect();
                let picks = g.initializer_i64("indices", &picks);
                g.node("Gather", &[&data_name, &picks], &[])
            }
        }
    }
}

/// The model [`model_shape`] builds: the linear test model's a*b* plus the mean of each
/// constant, with the given metadata for the contract keys.
pub fn shaped_model(metadata: &[MetadataValue; 5], constants: &[FoldedConstant]) -> Vec<u8> {
    use colorize::onnx::{Attr, GraphBuilder};
    let mut g = GraphBuilder::new("fuzzed-shape");
    let l = g.contract_input(None);
    let mut y = g.conv(&l, &[0.5, -0.25], &[-25.0, 12.5], 2, 1, 1, 1, 0);
    for constant in constants.iter().take(MAX_CONSTANTS) {
        let value = constant.build(&mut g, &l);
        let value = g.node("Cast", &[&value], &[("to", Attr::Int(1))]);
        let mean = g.node("ReduceMean", &[&value], &[("keepdims", Attr::Int(0))]);
        y = g.node("Add", &[&y, &mean], &[]);
    }
    g.contract_output(&y, None);
    let contract_keys = [
        keys::FORMAT,
        keys::STRIDE,
        keys::PAD_MULTIPLE,
        keys::TRAIN_SIZE,
        keys::INPUT_SIZE,
    ];
    for (key, value) in contract_keys.iter().zip(metadata) {
        match value {
            MetadataValue::Absent => {}
            MetadataValue::Number(n) => g.metadata(key, n),
            MetadataValue::Text(t) => g.metadata(key, String::from_utf8_lossy(t)),
        }
    }
    g.to_bytes()
}

/// The fuzz bytes that [`model_shape`] reads as these metadata values and constants.
pub fn shape_case(metadata: &[MetadataValue; 5], constants: &[FoldedConstant]) -> Vec<u8> {
    let mut out = Vec::new();
    for value in metadata {
        value.write(&mut out);
    }
    out.push(constants.len().min(MAX_CONSTANTS) as u8);
    for constant in constants.iter().take(MAX_CONSTANTS) {
        constant.write(&mut out);
    }
    out
}

/// A model built from the fuzz bytes (see [`shape_case`]), through the same checks as
/// [`model_load`]: refused with a status, or loaded and run; never a crash, never more
/// memory than the fuzzer's limit.
pub fn model_shape(data: &[u8]) {
    let mut r = Reader { data };
    let metadata: [MetadataValue; 5] = std::array::from_fn(|_| MetadataValue::read(&mut r));
    let count = r.u8() as usize % (MAX_CONSTANTS + 1);
    let constants: Vec<FoldedConstant> = (0..count).map(|_| FoldedConstant::read(&mut r)).collect();
    model_load(&shaped_model(&metadata, &constants));
}

/// The CLI's decode path: decode with limits (first byte picks the pixel limit), then, for
/// small images, colorize and encode as the CLI does.
pub fn decode(data: &[u8]) {
    let Some((&choice, bytes)) = data.split_first() else {
        return;
    };
    let max_pixels = [1 << 20, 4096, 1, 100_000][choice as usize % 4];
    let limits = colorize::io::Limits {
        max_pixels,
        max_input_bytes: 1 << 24,
        ..Default::default()
    };
    let image = match colorize::io::decode_bytes(bytes, &limits) {
        Ok(image) => image,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(
                matches!(
                    e.kind(),
                    colorize::ErrorKind::Io | colorize::ErrorKind::TooLarge
                ),
                "decode: unexpected error kind {:?}: {e}",
                e.kind()
            );
            return;
        }
    };
    let (w, h) = (image.width() as u64, image.height() as u64);
    assert!(
        w * h <= max_pixels,
        "decoded {w}x{h}, over the limit of {max_pixels} pixels"
    );
    if w * h > 64 * 64 {
        return;
    }
    let model = {
        static MODEL: OnceLock<colorize::Model> = OnceLock::new();
        MODEL.get_or_init(|| {
            colorize::Model::from_bytes(&colorize::onnx::linear_test_model(0.5, -0.25), "linear")
                .expect("linear model")
        })
    };
    let options = colorize::Options {
        working_size: 16,
        ..Default::default()
    };
    // Float images (OpenEXR, HDR, TIFF) may hold NaN samples, which are refused by design
    // with the pixel's position; everything else must colorize.
    let has_nan = match &image {
        image::DynamicImage::ImageRgb32F(b) => b.iter().any(|v| v.is_nan()),
        image::DynamicImage::ImageRgba32F(b) => b.iter().any(|v| v.is_nan()),
        _ => false,
    };
    match colorize::colorize_image(model, &options, image) {
        Ok(coloured) => {
            assert_eq!((coloured.width() as u64, coloured.height() as u64), (w, h));
            let png = colorize::io::encode(&coloured, image::ImageFormat::Png)
                .expect("PNG encoding of a colorized image");
            let back = colorize::io::decode_bytes(&png, &colorize::io::Limits::default())
                .expect("our own PNG decodes");
            assert_eq!((back.width() as u64, back.height() as u64), (w, h));
        }
        Err(e) => {
            // Only an empty image, or NaN samples, may be refused.
            assert!(
                w == 0 || h == 0 || (has_nan && e.kind() == colorize::ErrorKind::InvalidArgument),
                "colorize_image refused a {w}x{h} image: {e}"
            );
        }
    }
}
