//! One call's execution context: the worker threads it may use and its progress reporting.
//!
//! The per-pixel loops run in parallel on the call's pool, but always in chunks of rows
//! started from the calling thread, which reports progress (and learns of a stop) between
//! chunks. [`Job`] is deliberately not `Sync`: a parallel closure cannot capture it, so
//! the progress callback is only ever called on the calling thread, as documented.

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::ThreadPool;
use tract_linalg::multithread::Executor;

use crate::error::{Error, ErrorKind, Result};
use crate::options::{Options, Progress};

/// Rows per chunk are chosen so a chunk holds about this many pixels: a few milliseconds
/// of work on one core, short enough for a prompt stop, long enough that reporting costs
/// nothing measurable.
const PIXELS_PER_CHUNK: usize = 1 << 19;

pub(crate) struct Job<'a> {
    /// The call's own pool, or `None` for rayon's global pool.
    pool: Option<Arc<ThreadPool>>,
    progress: Option<Progress<'a>>,
    /// The current stage's share of the whole call.
    stage: Cell<(f32, f32)>,
    /// The last fraction reported (reports never go backwards).
    reported: Cell<f32>,
}

/// Pools by thread count, started on first use and kept: starting threads on every call
/// would cost more than a small image's whole colorization.
fn pool_with(threads: u32) -> Result<Arc<ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<u32, Arc<ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(pool) = pools.get(&threads) {
        return Ok(pool.clone());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads as usize)
        .thread_name(move |i| format!("colorize-{threads}-{i}"))
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("cannot start {threads} worker threads: {e}"),
            )
        })?;
    let pool = Arc::new(pool);
    pools.insert(threads, pool.clone());
    Ok(pool)
}

impl<'a> Job<'a> {
    /// The context of a call with `options` (which the caller has validated).
    pub fn new(options: &Options<'a>) -> Result<Self> {
        let pool = match options.threads {
            0 => None,
            n => Some(pool_with(n)?),
        };
        Ok(Job {
            pool,
            progress: options.progress,
            stage: Cell::new((0.0, 1.0)),
            reported: Cell::new(0.0),
        })
    }

    /// Runs `work` on the call's threads (parallel iterators inside it use them).
    pub fn install<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }

    /// The executor for tract's matrix products, matching [`Job::install`].
    pub fn executor(&self) -> Executor {
        match &self.pool {
            Some(pool) => Executor::MultiThread(pool.clone()),
            None => Executor::RayonGlobal,
        }
    }

    /// Starts a stage that covers `start..end` of the whole call, reporting `start`.
    pub fn stage(&self, start: f32, end: f32) -> Result<()> {
        self.stage.set((start, end));
        self.report(0.0)
    }

    /// Reports `fraction` (0..=1) of the current stage done; fails with
    /// [`ErrorKind::Cancelled`] when the callback asks to stop.
    pub fn report(&self, fraction: f32) -> Result<()> {
        let Some(Progress(callback)) = self.progress else {
            return Ok(());
        };
        let (start, end) = self.stage.get();
        let overall = (start + (end - start) * fraction.clamp(0.0, 1.0))
            .clamp(0.0, 1.0)
            .max(self.reported.get());
        self.reported.set(overall);
        if callback(overall) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Cancelled,
                "cancelled by the progress callback",
            ))
        }
    }

    /// Reports the whole call done (1.0); the last report of a successful call.
    pub fn finish(&self) -> Result<()> {
        self.stage(1.0, 1.0)
    }

    /// Whether a progress callback is set (a call may then stop half way, so its outputs
    /// must be built aside and written at the end).
    pub fn can_stop(&self) -> bool {
        self.progress.is_some()
    }

    /// Calls `work` on consecutive chunks of `0..rows` (rows of `width` pixels) on the
    /// call's threads, reporting progress through the current stage after each chunk.
    pub fn rows(
        &self,
        rows: usize,
        width: usize,
        mut work: impl FnMut(Range<usize>) + Send,
    ) -> Result<()> {
        // Without a callback nothing listens between chunks: one chunk keeps every core busy.
        let step = match self.progress {
            Some(_) => (PIXELS_PER_CHUNK / width.max(1)).max(1),
            None => rows.max(1),
        };
        let mut start = 0;
        while start < rows {
            let end = (start + step).min(rows);
            self.install(|| work(start..end));
            self.report(end as f32 / rows as f32)?;
            start = end;
        }
        Ok(())
    }
}
