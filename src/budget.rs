//! How much memory colorizing one image takes, estimated from its header before anything
//! is decoded, so that a client can refuse an image that would not fit instead of dying of
//! an allocation failure halfway through a batch, and can run only as many images at once
//! as fit in memory together.
//!
//! The estimate is deliberately on the high side. Its parts, per image of W x H pixels:
//!
//! * full resolution: the decoded pixels, their RGB(A) copy at the output depth, the L*
//!   plane and the resampling copies made from it, the encoded output;
//! * the network: [`ACTIVATION_BYTES_PER_PIXEL`] for every pixel the network sees (the
//!   padded working-size plane, or one tile in native mode), plus native mode's
//!   full-resolution a*b*.
//!
//! The loaded model itself (weights, optimized plans) is shared by all images and not
//! counted here.

use crate::{Mode, Model, Options, DEFAULT_TILE_SIZE};

/// Makes the C allocator (glibc) keep freed memory for the next allocation instead of
/// returning each large block to the OS. The network allocates its activations afresh on
/// every run (tens of megabytes per layer at 512x512); glibc serves blocks that large with
/// `mmap` and unmaps them on free, so every run paid a page fault per 4 KiB touched: 15-20%
/// of the network's time (PERF_NOTES.md). With this, peak memory is what it was, but it is
/// not given back until the process ends.
///
/// For programs, not libraries: it changes the whole process's allocator. The `colorize` CLI
/// and `colorize-bench` call it at start-up; an application embedding the library can make
/// the same `mallopt` calls (or set `GLIBC_TUNABLES=glibc.malloc.mmap_max=0`) if that trade
/// suits it. Does nothing on other C libraries.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation policy; called before other threads
    // allocate (at start-up), as glibc's documentation asks.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// Bytes of network activations (tract's intermediate tensors, im2col buffers) per input
/// pixel the network runs on. Measured as peak RSS against working size with the shipped
/// encoder-decoder models (about 800 bytes per pixel from 90 k to 1.4 M network pixels,
/// docs/reliability.md), rounded up.
pub const ACTIVATION_BYTES_PER_PIXEL: u64 = 1024;

/// Bytes per full-resolution pixel besides the decoded input and the output pixels: the
/// L* plane (4), the copy the working-size resampler makes of it (4), its intermediate
/// pass (up to 4) and headroom for the encoder's buffers (4).
const WORKING_BYTES_PER_PIXEL: u64 = 16;

/// Working-mode shapes are padded up to multiples of this (as the engine does).
const SHAPE_BUCKET: u64 = 32;
/// The engine never makes the long side more than this many times the working size.
const MAX_ASPECT_STRETCH: u64 = 4;

/// An estimate of the peak bytes colorizing one `width` x `height` image with `model` and
/// `options` takes: decoding it at `input_bytes_per_pixel` (the decoded layout), the
/// colorized copy at `output_bytes_per_pixel`, the working planes and the network's
/// activations. Never overflows (saturates).
pub fn estimate_peak_bytes(
    model: &Model,
    options: &Options<'_>,
    width: u32,
    height: u32,
    input_bytes_per_pixel: u64,
    output_bytes_per_pixel: u64,
) -> u64 {
    let (w, h) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let pixels = w.saturating_mul(h);
    let full_resolution = pixels.saturating_mul(
        input_bytes_per_pixel
            .saturating_add(output_bytes_per_pixel)
            .saturating_add(WORKING_BYTES_PER_PIXEL),
    );
    let contract = model.contract();
    let multiple = (contract.pad_multiple.max(1)) as u64;
    let bucket = multiple / gcd(multiple, SHAPE_BUCKET) * SHAPE_BUCKET;
    let network = match (options.mode, contract.input_size) {
        (_, Some(side)) => (side as u64).saturating_mul(side as u64),
        (Mode::Native, None) => {
            let requested = if options.tile_size == 0 {
                DEFAULT_TILE_SIZE as u64
            } else {
                u64::from(options.tile_size)
            };
            let tile = requested.div_ceil(multiple) * multiple;
            let (tw, th) = (
                w.min(tile).div_ceil(multiple) * multiple,
                h.min(tile).div_ceil(multiple) * multiple,
            );
            // Plus the full-resolution a*b* (2 f16) and the f32 band the tiles are summed in
            // (a tile's height of rows), counted as 8 bytes a pixel on the high side.
            tw.saturating_mul(th)
                .saturating_add(pixels.saturating_mul(8) / ACTIVATION_BYTES_PER_PIXEL)
        }
        (Mode::Working, None) => {
            let size = if options.working_size == 0 {
                contract.train_size as u64
            } else {
                u64::from(options.working_size)
            }
            .max(1);
            let (short, long) = (w.min(h) as f64, w.max(h) as f64);
            let mut scale = size as f64 / short;
            let max_long = (size * MAX_ASPECT_STRETCH) as f64;
            if long * scale > max_long {
                scale = max_long / long;
            }
            let side =
                |n: u64| (((n as f64 * scale).round() as u64).max(1)).div_ceil(bucket) * bucket;
            side(w).saturating_mul(side(h))
        }
    };
    full_resolution.saturating_add(network.saturating_mul(ACTIVATION_BYTES_PER_PIXEL))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The memory the system could give this process now without swapping (`MemAvailable`,
/// and the cgroup's limit less its usage when that is lower), or `None` where unknown.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)?;
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    let cgroup = match (
        read("/sys/fs/cgroup/memory.max"),
        read("/sys/fs/cgroup/memory.current"),
    ) {
        (Some(max), Some(current)) => Some(max.saturating_sub(current)),
        _ => None,
    };
    Some(cgroup.map_or(available, |c| c.min(available)))
}
