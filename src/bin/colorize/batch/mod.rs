//! Plans and runs a batch: expands inputs (files, folders, globs, stdin, a --files-from
//! list) into jobs with their output paths, refuses outputs that would overwrite an input
//! or be written from two inputs, keeps the jobs of one --shard, sweeps temporary files a
//! killed run left for those outputs, then colorizes the jobs in parallel, each written
//! atomically, with an optional JSON-lines report.
//!
//! Output names: an output keeps its input's whole file name; only the extension changes,
//! and only when the output format differs from the input's (`scan.1952.06.png` stays
//! `scan.1952.06.png`; `scan.1952.06.webp` becomes `scan.1952.06.png`).
//!
//! Shards (`--shard K/N`): each input has a shard key, its path relative to the batch (see
//! [`Found::key`]); it belongs to shard `fnv1a64_fmix(key) mod N` + 1. The key does not
//! depend on discovery order, on the machine, or on the other inputs, so the N shards are
//! disjoint, together are the whole batch, and a shard is the same set on every run.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io::{IsTerminal, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use colorize::io::has_image_extension;
use image::ImageFormat;
use rayon::prelude::*;

use crate::{Cli, CliMode};

/// A line on stderr; a closed or failing stderr is ignored (no panic, unlike `eprintln!`).
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod outputs;
mod plan;
mod report;
mod run;
mod shard;
mod stdout;

use self::outputs::*;
use self::plan::*;
use self::report::*;
use self::run::*;
use self::shard::*;
use self::stdout::*;

pub fn run(cli: &Cli) -> ExitCode {
    let started = Instant::now();
    // The network's and the pixel loops' parallel work runs on rayon's global pool, sized
    // to --jobs before anything uses it, so the batch never uses more cores than asked.
    if let Some(jobs) = cli.jobs {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.max(1))
            .build_global();
    }
    NUL_TERMINATED.store(cli.print0, Ordering::Relaxed);
    let Plan {
        jobs,
        failures,
        notes,
        total,
        inputs,
    } = match plan(cli) {
        Ok(plan) => plan,
        Err(usage) => {
            note!("colorize: {usage}");
            return ExitCode::from(2);
        }
    };
    for line in &notes {
        note!("colorize: {line}");
    }
    for f in &failures {
        note!("colorize: {}: {}", f.input, f.message);
    }
    if let (Some((k, n)), false) = (cli.shard, cli.quiet) {
        note!(
            "colorize: shard {k}/{n}: {} of {total} inputs",
            jobs.len() + failures.iter().filter(|f| f.key.is_some()).count()
        );
    }
    // --skip-existing leaves alone only outputs that are whole (non-empty and decoding);
    // checked in parallel, as a resumed batch may have thousands.
    let skip: Vec<bool> = if cli.skip_existing {
        jobs.par_iter()
            .map(|job| match &job.sink {
                Sink::File(p) if p.exists() => {
                    let complete = output_is_complete(p, cli);
                    if !complete && !cli.quiet {
                        note!(
                            "colorize: {}: empty or not a whole image; writing it again",
                            p.display()
                        );
                    }
                    complete
                }
                _ => false,
            })
            .collect()
    } else {
        vec![false; jobs.len()]
    };
    let (skipped, jobs): (Vec<(Job, bool)>, Vec<(Job, bool)>) =
        jobs.into_iter().zip(skip).partition(|(_, skip)| *skip);
    let skipped: Vec<Job> = skipped.into_iter().map(|(job, _)| job).collect();
    let jobs: Vec<Job> = jobs.into_iter().map(|(job, _)| job).collect();
    let skipped_count = skipped.len();
    if cli.dry_run {
        for job in &jobs {
            print_line(&format!("{}\t{}", job.source.label(), job.sink.label()));
        }
        return if failures.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    let report = match Report::open(cli.report.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            note!("colorize: {e}");
            return ExitCode::from(2);
        }
    };
    for f in &failures {
        report.line(&f.input, f.output.as_deref(), "failed", Some(&f.message), 0);
    }
    for job in &skipped {
        report.line(
            &job.source.label(),
            Some(&job.sink.label()),
            "skipped",
            None,
            0,
        );
    }
    let swept = sweep_leftovers(&jobs);
    if swept > 0 && !cli.quiet {
        note!("colorize: removed {swept} temporary file(s) left by an interrupted run");
    }
    let failed = AtomicUsize::new(failures.len());
    let done = AtomicUsize::new(0);
    let not_started = AtomicUsize::new(0);
    if !jobs.is_empty() {
        let model = match crate::load_model(&cli.model) {
            Ok(m) => m,
            Err(e) => {
                note!("colorize: model {}: {e}", cli.model);
                return ExitCode::from(1);
            }
        };
        if let Err(e) = model.temperature_for(cli.vividness.unwrap_or(0.0)) {
            note!("colorize: --vividness: {e}");
            return ExitCode::from(2);
        }
        let options = colorize::Options {
            working_size: cli.size.unwrap_or(0),
            saturation: cli.saturation,
            vividness: cli.vividness.unwrap_or(0.0),
            mode: match cli.mode {
                CliMode::Working => colorize::Mode::Working,
                CliMode::Native => colorize::Mode::Native,
            },
            tile_size: cli.tile_size.unwrap_or(0),
            upsampling: match cli.upsampling {
                crate::CliUpsampling::Guided => colorize::Upsampling::Guided,
                crate::CliUpsampling::Bilinear => colorize::Upsampling::Bilinear,
            },
            precision: cli.precision.into(),
            ..Default::default()
        };
        let threads = cli
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        let memory = MemoryPool::new(cli.memory_budget.unwrap_or_else(|| {
            colorize::budget::available_memory().map_or(u64::MAX, |m| m / 4 * 3)
        }));
        let show_bar = !cli.quiet && std::io::stderr().is_terminal() && jobs.len() > 1;
        let bar = if show_bar {
            let style = indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} {per_sec} {elapsed_precise}, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            indicatif::ProgressBar::new(jobs.len() as u64).with_style(style)
        } else {
            indicatif::ProgressBar::hidden()
        };
        let stdout_used = jobs.iter().any(|j| matches!(j.sink, Sink::Stdout));
        let print_paths = (cli.print || cli.print0) && !stdout_used;
        // Not while reading an image from stdin: that read would not be interrupted.
        if !jobs.iter().any(|j| matches!(j.source, Source::Stdin)) {
            catch_stop_signals();
        }
        let alpha_noted = AtomicBool::new(false);
        let context = Context {
            cli,
            model: &model,
            options: &options,
            inputs: &inputs,
            memory: &memory,
        };
        let next = AtomicUsize::new(0);
        quiet_panics_in_jobs();
        let work = || loop {
            let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return;
            };
            if STOP.load(Ordering::SeqCst) != 0 {
                not_started.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let t = Instant::now();
            // A panic (a bug, or an allocation the estimate missed) ends this input only:
            // its message becomes the input's error and the batch goes on.
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_job(job, &context)))
                    .unwrap_or_else(|payload| Err(panic_error(payload)));
            let ms = t.elapsed().as_millis() as u64;
            let (input, output) = (job.source.label(), job.sink.label());
            match result {
                Ok(job_done) => {
                    done.fetch_add(1, Ordering::Relaxed);
                    report.line(&input, Some(&output), "colorized", None, ms);
                    if job_done.alpha_dropped && !alpha_noted.swap(true, Ordering::Relaxed) {
                        let format = format!("{:?}", job.format).to_uppercase();
                        bar.suspend(|| {
                            note!(
                                "colorize: note: {format} has no alpha channel; the \
                                 transparency of {input} (and of any other such input) \
                                 is dropped: use PNG, TIFF or WebP to keep it"
                            )
                        });
                    }
                    if print_paths {
                        bar.suspend(|| print_line(&output));
                    }
                }
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    let message = e.to_string();
                    report.line(&input, Some(&output), "failed", Some(&message), ms);
                    bar.suspend(|| note!("colorize: {input}: {message}"));
                }
            }
            bar.inc(1);
        };
        let started_all = std::thread::scope(|scope| {
            let mut started = 0;
            for i in 0..threads.min(jobs.len()) {
                match std::thread::Builder::new()
                    .name(format!("colorize-job-{i}"))
                    .spawn_scoped(scope, work)
                {
                    Ok(_) => started += 1,
                    Err(e) => {
                        note!("colorize: cannot start a worker thread: {e}");
                        break;
                    }
                }
            }
            started > 0
        });
        QUIET_PANICS.store(false, Ordering::Relaxed);
        if !started_all {
            return ExitCode::from(1);
        }
        bar.finish_and_clear();
    }
    let (done, failed, not_started) = (
        done.into_inner(),
        failed.into_inner(),
        not_started.into_inner(),
    );
    if !cli.quiet {
        note!(
            "colorize: {done} colorized, {skipped_count} skipped (already there), {failed} failed, in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let signal = STOP.load(Ordering::SeqCst);
    if signal != 0 {
        note!(
            "colorize: stopped by signal {signal}: {not_started} input(s) not started; \
             run again with --skip-existing to finish"
        );
        return ExitCode::from(128 + signal as u8);
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_keep_the_whole_name() {
        let png = ImageFormat::Png;
        for (input, format, expected) in [
            ("scan.1952.06.png", png, "scan.1952.06.png"),
            ("v1.2.final.png", png, "v1.2.final.png"),
            ("d.PNG", png, "d.PNG"),
            ("scan.1952.06.webp", png, "scan.1952.06.png"),
            ("a b.c.tif", ImageFormat::Jpeg, "a b.c.jpg"),
            ("x.jpeg", ImageFormat::Jpeg, "x.jpeg"),
            ("g.1.pgm", ImageFormat::Pnm, "g.1.ppm"),
            ("scan.1952", png, "scan.1952.png"),
            ("noext", png, "noext.png"),
            ("-dash.png", png, "-dash.png"),
            ("façade.été.png", png, "façade.été.png"),
        ] {
            assert_eq!(
                output_name(Path::new(input), format),
                OsString::from(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn shard_hash_is_pinned() {
        // The assignment must never change between versions or machines: a cluster run
        // resumed with a newer build must pick the same inputs.
        // Same values as the Python in docs/scale-out.md.
        assert_eq!(shard_hash(b""), 0xefd0_1f60_ba99_2926);
        assert_eq!(shard_hash(b"a.png"), 0x770c_0647_53fc_ca9e);
        assert_eq!(shard_hash(b"scan.1952.06.png"), 0xf6ba_d17a_d55c_e219);
        assert_eq!(shard_of(Path::new("sub/fa\u{e7}ade.png"), 4), 1);
        assert_eq!(shard_of(Path::new("scan.1952.06.png"), 4), 2);
    }

    #[test]
    fn shards_are_balanced_and_cover_everything() {
        for n in [4u32, 7, 16] {
            let mut sizes = vec![0usize; n as usize];
            for i in 0..100_000 {
                let key = format!("d{}/IMG_{i:06}.png", i / 1000);
                let k = shard_of(Path::new(&key), n);
                assert!((1..=n).contains(&k));
                sizes[k as usize - 1] += 1;
            }
            let expected = 100_000 / n as usize;
            assert!(
                sizes.iter().all(|&s| s.abs_diff(expected) * 50 <= expected),
                "{n}: {sizes:?}"
            );
        }
    }

    #[test]
    fn temp_names() {
        assert_eq!(
            temp_target(OsStr::new(".a.b.png.Xy12Zq.colorize-tmp")),
            Some("a.b.png")
        );
        assert_eq!(temp_target(OsStr::new("a.png.Xy12Zq.colorize-tmp")), None);
        assert_eq!(temp_target(OsStr::new(".a.png.colorize-tmp.txt")), None);
        assert_eq!(temp_target(OsStr::new(".a.png.x-y.colorize-tmp")), None);
    }
}
