//! Running the jobs: the memory pool that bounds the images in flight, one job's decode,
//! colorize and atomic write, panics kept inside their job, and stop signals.

use super::*;

/// The decoding limits of the command line.
pub(super) fn limits(cli: &Cli) -> colorize::io::Limits {
    colorize::io::Limits {
        max_pixels: cli.max_pixels,
        accept_truncated: cli.accept_truncated,
        ..Default::default()
    }
}

/// Memory for the images in progress together (--memory-budget): each image reserves its
/// estimated peak once its header is read, before its pixels are decoded, and waits while
/// the others hold too much. Waiting happens on the batch's own worker threads, never on
/// rayon's (a rayon thread waiting could be the one running the image that holds the memory).
pub(super) struct MemoryPool {
    pub(super) total: u64,
    pub(super) used: Mutex<u64>,
    pub(super) freed: Condvar,
}

/// Memory reserved from a [`MemoryPool`], given back when dropped.
pub(super) struct Reservation<'a> {
    pub(super) pool: &'a MemoryPool,
    pub(super) bytes: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut used = self.pool.used.lock().unwrap_or_else(|e| e.into_inner());
        *used -= self.bytes;
        self.pool.freed.notify_all();
    }
}

pub(super) fn gigabytes(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

impl MemoryPool {
    pub(super) fn new(total: u64) -> Self {
        MemoryPool {
            total,
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Reserves `bytes` for an image of `header`, waiting for others to finish if need
    /// be; refuses an image that could never fit.
    pub(super) fn reserve(
        &self,
        bytes: u64,
        header: &colorize::io::Header,
    ) -> colorize::Result<Reservation<'_>> {
        if bytes > self.total {
            return Err(colorize::Error::new(
                colorize::ErrorKind::TooLarge,
                format!(
                    "a {}x{} image needs about {} of memory with these options, over the \
                     memory budget of {} (a smaller --size or --resize, --mode native, or a \
                     larger --memory-budget)",
                    header.width,
                    header.height,
                    gigabytes(bytes),
                    gigabytes(self.total)
                ),
            ));
        }
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while used.saturating_add(bytes) > self.total {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += bytes;
        Ok(Reservation { pool: self, bytes })
    }
}

/// What [`run_job`] needs besides the job.
pub(super) struct Context<'a> {
    pub(super) cli: &'a Cli,
    pub(super) model: &'a colorize::Model,
    pub(super) options: &'a colorize::Options<'a>,
    pub(super) inputs: &'a HashSet<PathBuf>,
    pub(super) memory: &'a MemoryPool,
}

pub(super) fn run_job(job: &Job, context: &Context<'_>) -> colorize::Result<JobDone> {
    let Context {
        cli,
        model,
        options,
        inputs,
        memory,
    } = *context;
    let limits = limits(cli);
    // A test hook: a panic on a rayon thread inside this input's work, as an allocation
    // failure inside the network would raise, for the batch's panic handling to be tested.
    if let (Some(marker), Source::File(path)) =
        (std::env::var_os("COLORIZE_TEST_PANIC_ON"), &job.source)
    {
        if path.as_os_str() == marker {
            use rayon::prelude::*;
            (0..2).into_par_iter().for_each(|i| {
                if i == 1 {
                    panic!("test panic for {}", path.display())
                }
            });
        }
    }
    // The estimate of the whole job, from the header (and --resize), before decoding.
    let reserve = |header: &colorize::io::Header| {
        let (mut w, mut h) = (header.width, header.height);
        if let Some((rw, rh)) = cli.resize {
            if u64::from(rw) * u64::from(rh) > u64::from(w) * u64::from(h) {
                (w, h) = (rw, rh);
            }
        }
        let input = u64::from(header.color.bytes_per_pixel());
        let channels = u64::from(header.color.channel_count()).max(1);
        let output = input / channels * if header.color.has_alpha() { 4 } else { 3 };
        let bytes = colorize::budget::estimate_peak_bytes(model, options, w, h, input, output);
        memory.reserve(bytes, header)
    };
    let (image, _reservation, carried) = match &job.source {
        Source::Stdin => {
            let bytes = colorize::io::read_stream(std::io::stdin().lock(), &limits)?;
            if bytes.is_empty() {
                return Err(colorize::Error::new(
                    colorize::ErrorKind::Io,
                    "stdin is empty",
                ));
            }
            let carried = crate::metadata::check(crate::metadata::Carried::from_bytes(&bytes))?;
            let (image, reservation) = colorize::io::decode_bytes_with(&bytes, &limits, reserve)?;
            (image, reservation, carried)
        }
        Source::File(path) => {
            let carried = crate::metadata::check(crate::metadata::Carried::from_path(path))?;
            let (image, reservation) = colorize::io::decode_file_with(path, &limits, reserve)?;
            (image, reservation, carried)
        }
    };
    // Colour-managed to sRGB before the engine takes L*; metadata settled for the output.
    let (image, input) = crate::metadata::take_in(
        image,
        carried,
        cli.strip,
        cli.keep_profile,
        &job.source.label(),
    )?;
    let image = match cli.resize {
        Some((w, h)) => {
            if u64::from(w) * u64::from(h) > cli.max_pixels {
                return Err(colorize::Error::new(
                    colorize::ErrorKind::TooLarge,
                    format!("--resize {w}x{h} is over --max-pixels"),
                ));
            }
            image.resize_exact(w, h, image::imageops::FilterType::Lanczos3)
        }
        None => image,
    };
    let coloured = colorize::colorize_image(model, options, image)?;
    let coloured = crate::metadata::give_out(coloured, &input)?;
    let done = JobDone {
        alpha_dropped: colorize::io::drops_alpha(&coloured, job.format),
    };
    let settings = crate::metadata::Settings {
        quality: cli.quality,
        subsampling: cli.subsampling,
    };
    let bytes = crate::metadata::encode(&coloured, job.format, &input.carried, &settings)?;
    match &job.sink {
        Sink::Stdout => write_stdout(&bytes)
            .map(|()| done)
            .map_err(|e| colorize::Error::new(colorize::ErrorKind::Io, format!("stdout: {e}"))),
        Sink::File(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    colorize::Error::new(colorize::ErrorKind::Io, format!("{}: {e}", dir.display()))
                })?;
            }
            // Again now that the folder exists and the path can be fully resolved.
            if overwrites_input(path, inputs) {
                return Err(colorize::Error::new(
                    colorize::ErrorKind::InvalidArgument,
                    format!("refusing to overwrite an input: {}", path.display()),
                ));
            }
            colorize::io::write_atomic(path, &bytes).map(|()| done)
        }
    }
}

/// What a finished job tells the user about.
pub(super) struct JobDone {
    /// The image had alpha and the output format holds none.
    pub(super) alpha_dropped: bool,
}

/// Set while the jobs run: a panic is caught by the job that raised it and reported as
/// that input's error, so the default hook's message on stderr is not printed.
pub(super) static QUIET_PANICS: AtomicBool = AtomicBool::new(false);

/// Installs (once) a panic hook that stays silent while [`QUIET_PANICS`] is set.
pub(super) fn quiet_panics_in_jobs() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.load(Ordering::Relaxed) {
                default(info);
            }
        }));
    });
    QUIET_PANICS.store(true, Ordering::Relaxed);
}

/// A caught panic as an input's error.
pub(super) fn panic_error(payload: Box<dyn std::any::Any + Send>) -> colorize::Error {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string());
    colorize::Error::new(
        colorize::ErrorKind::Inference,
        format!("internal error, this input was given up (please report it): {message}"),
    )
}

/// Set by SIGINT or SIGTERM (Slurm's scancel, a job's time limit): no new image is
/// started, the ones being written are finished. A second signal kills at once.
pub(super) static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(signal: libc::c_int) {
    STOP.store(signal, Ordering::SeqCst);
    let message = b"colorize: stopping after the images in progress (signal again to stop now)\n";
    // SAFETY: write(2) is async-signal-safe; the buffer is static.
    unsafe { libc::write(2, message.as_ptr().cast(), message.len()) };
}

pub(super) fn catch_stop_signals() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs a handler that only stores to an atomic; SA_RESETHAND restores
        // the default action for a second signal.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESETHAND;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}
