//! (c) Peak resident memory of the `colorize` CLI on a large grey JPEG, in the default
//! (working) mode and in the tiled native mode: what the kernel reports for the child
//! process (`wait4`'s `ru_maxrss`), so it counts everything the process touched: decoded
//! image, L* plane, a*b*, network activations, encoder buffers, allocator slack.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

#[derive(Serialize, Clone, Debug)]
pub struct PeakRss {
    pub mode: String,
    pub megapixels: f64,
    pub peak_rss_mib: f64,
    pub wall_s: f64,
}

/// Runs `cli IN -o OUT --mode MODE` and returns its peak RSS.
pub fn measure(
    cli: &Path,
    model: &Path,
    input: &Path,
    out_dir: &Path,
    mode: &str,
    megapixels: f64,
) -> Result<PeakRss> {
    let output = out_dir.join(format!("rss-out-{mode}.jpg"));
    let start = Instant::now();
    let child = Command::new(cli)
        .arg(input)
        .arg("-o")
        .arg(&output)
        .arg("-m")
        .arg(model)
        .arg("--mode")
        .arg(mode)
        .arg("-q")
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("running {}", cli.display()))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain syscall on our own child; `usage` is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall_s = start.elapsed().as_secs_f64();
    if waited != pid {
        bail!("wait4 on {pid} failed: {}", std::io::Error::last_os_error());
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!(
            "{} --mode {mode} failed (wait status {status})",
            cli.display()
        );
    }
    let _ = std::fs::remove_file(&output);
    Ok(PeakRss {
        mode: mode.to_string(),
        megapixels,
        // ru_maxrss is in KiB on Linux.
        peak_rss_mib: usage.ru_maxrss as f64 / 1024.0,
        wall_s,
    })
}
