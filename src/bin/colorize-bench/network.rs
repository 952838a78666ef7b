//! (a) The network alone: our engine (`Model::run_plane`, the path every call takes: cached
//! concrete-shape plan, tract) against Python onnxruntime (f32) and Python OpenVINO (at the
//! precision our engine runs) on the same ONNX bytes, the same thread count and the same
//! input tensor.
//!
//! Why interleaved: the machine is shared (2 cores, training jobs), so absolute times drift
//! by a factor of two within minutes. Each round runs ours, ORT and OpenVINO once each, back to
//! back, and each reported ratio is the median of the per-round ratios, which the drift cancels in.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use colorize::Precision;
use serde::Serialize;

use crate::images;

/// A peer runtime in a Python process (bench/ort_runner.py, bench/openvino_runner.py: the
/// same line protocol), driven over its stdin.
pub struct PeerRunner {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// "ORT" or "OpenVINO", for messages.
    pub label: &'static str,
    pub version: String,
}

impl PeerRunner {
    /// The ONNX Runtime runner (always f32: its CPU provider has no bf16 convolution).
    pub fn start_ort(python: &str, model: &Path, threads: usize) -> Result<Self> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/ort_runner.py");
        Self::start(
            "ORT",
            python,
            &script,
            &[model.display().to_string(), threads.to_string()],
            threads,
            "onnxruntime did not start: install it with `python3 -m pip install onnxruntime numpy` \
             (or pass --python with an interpreter that has it)",
        )
    }

    /// The OpenVINO runner at an inference precision ("f32" or "bf16").
    pub fn start_openvino(
        python: &str,
        model: &Path,
        threads: usize,
        precision: &str,
    ) -> Result<Self> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/openvino_runner.py");
        Self::start(
            "OpenVINO",
            python,
            &script,
            &[
                model.display().to_string(),
                threads.to_string(),
                precision.to_string(),
            ],
            threads,
            "OpenVINO did not start: install it with `python3 -m pip install openvino numpy`",
        )
    }

    fn start(
        label: &'static str,
        python: &str,
        script: &Path,
        args: &[String],
        threads: usize,
        hint: &'static str,
    ) -> Result<Self> {
        let mut child = Command::new(python)
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("OMP_NUM_THREADS", threads.to_string())
            .spawn()
            .with_context(|| format!("starting {python} {}", script.display()))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut runner = PeerRunner {
            child,
            stdin,
            stdout,
            label,
            version: String::new(),
        };
        let ready = match runner.read_line() {
            Ok(line) => line,
            Err(e) => {
                // Why it did not start: the last line of the runner's stderr (an ImportError).
                let mut err = String::new();
                if let Some(mut stderr) = runner.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
                }
                let last = err
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                bail!("{hint} ({e}; {last})");
            }
        };
        runner.version = ready
            .strip_prefix("ready ")
            .with_context(|| format!("unexpected first line from the {label} runner: {ready}"))?
            .to_string();
        // From here on the runner's stderr goes nowhere we read: drain it so it cannot block.
        if let Some(mut stderr) = runner.child.stderr.take() {
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut stderr, &mut std::io::sink());
            });
        }
        Ok(runner)
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("the {} runner exited", self.label);
        }
        let line = line.trim().to_string();
        if let Some(message) = line.strip_prefix("error ") {
            bail!("{} runner: {message}", self.label);
        }
        Ok(line)
    }

    fn command(&mut self, text: &str) -> Result<String> {
        writeln!(self.stdin, "{text}")?;
        self.stdin.flush()?;
        self.read_line()
    }

    fn load(&mut self, h: usize, w: usize, path: &Path) -> Result<()> {
        self.command(&format!("load {h} {w} {}", path.display()))?;
        Ok(())
    }

    fn run(&mut self, h: usize, w: usize) -> Result<f64> {
        let answer = self.command(&format!("run {h} {w}"))?;
        answer
            .parse()
            .with_context(|| format!("{} runner answered '{answer}'", self.label))
    }

    fn dump(&mut self, h: usize, w: usize, path: &Path) -> Result<()> {
        self.command(&format!("dump {h} {w} {}", path.display()))?;
        Ok(())
    }

    /// Loads the input, runs once to check the output against ours, and warms up.
    fn prepare(
        &mut self,
        size: usize,
        input_path: &Path,
        work_dir: &Path,
        ours_out: &[f32],
    ) -> Result<f32> {
        self.load(size, size, input_path)?;
        let output_path = work_dir.join(format!("{}-output-{size}.f32", self.label));
        self.dump(size, size, &output_path)?;
        let out = floats_of(&std::fs::read(&output_path)?);
        if out.len() != ours_out.len() {
            bail!(
                "{} output has {} values, ours {}",
                self.label,
                out.len(),
                ours_out.len()
            );
        }
        self.run(size, size)?; // warm-up (the first run allocates)
        Ok(ours_out
            .iter()
            .zip(&out)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max))
    }
}

impl Drop for PeerRunner {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

/// The OpenVINO precision that matches what our engine runs at `precision` on this CPU: bf16
/// where our bf16 runs natively (AMX-BF16), f32 otherwise (our bf16 runs as f32 there).
pub fn openvino_precision(precision: Precision) -> &'static str {
    if precision == Precision::Bf16 && precision.runs_natively() {
        "bf16"
    } else {
        "f32"
    }
}

/// One input size's result.
#[derive(Serialize, Clone, Debug)]
pub struct SizeResult {
    pub size: usize,
    /// Our engine's precision (ORT always runs f32: its CPU provider has no bf16 convolution).
    pub precision: String,
    /// False where this CPU lacks what `precision` needs and ran f32 instead.
    pub precision_native: bool,
    /// First run of our engine at this shape: optimising the concrete plan plus one run.
    pub ours_first_s: f64,
    pub ours_median_s: f64,
    pub ort_median_s: f64,
    /// Median over rounds of (ours / ORT) measured back to back.
    pub ratio: f64,
    /// Largest |ours - ORT| over the output a*b*, same input.
    pub max_abs_diff: f32,
    /// OpenVINO at the precision our engine actually ran (`openvino_precision`); None where
    /// OpenVINO was not available (the reason is printed).
    pub openvino_precision: Option<String>,
    pub openvino_median_s: Option<f64>,
    /// Median over rounds of (ours / OpenVINO) measured in the same rounds.
    pub ratio_openvino: Option<f64>,
    pub max_abs_diff_openvino: Option<f32>,
    pub rounds: usize,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// Rounds for a size: enough for a stable median, bounded in time for large inputs.
pub fn rounds_for(size: usize, requested: usize) -> usize {
    if requested > 0 {
        requested
    } else if size <= 256 {
        11
    } else if size <= 512 {
        7
    } else {
        5
    }
}

/// Ours, ORT and (when given) OpenVINO, interleaved: each round runs all of them back to
/// back, the order rotating from round to round.
pub fn bench_size(
    model: &colorize::Model,
    ort: &mut PeerRunner,
    mut openvino: Option<&mut PeerRunner>,
    work_dir: &Path,
    size: usize,
    precision: Precision,
    rounds: usize,
) -> Result<SizeResult> {
    let m = model.contract().pad_multiple;
    if size % m != 0 {
        bail!("size {size} is not a multiple of the model's pad_multiple {m}");
    }
    let l = images::lightness_plane(size, size);
    let input_path: PathBuf = work_dir.join(format!("input-{size}.f32"));
    std::fs::write(&input_path, bytes_of(&l))?;

    let start = Instant::now();
    let (ours_out, _, _) = model.run_plane(l.clone(), size, size, precision, 0.0)?;
    let ours_first_s = start.elapsed().as_secs_f64();
    let max_abs_diff = ort.prepare(size, &input_path, work_dir, &ours_out)?;
    let max_abs_diff_openvino = match openvino.as_deref_mut() {
        Some(ov) => Some(ov.prepare(size, &input_path, work_dir, &ours_out)?),
        None => None,
    };

    let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ov_times, mut ov_ratios) = (Vec::new(), Vec::new());
    let peers = if openvino.is_some() { 3 } else { 2 };
    for round in 0..rounds {
        // Rotate who goes first, so no runtime always runs right after another's burst.
        let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
        for slot in 0..peers {
            match (round + slot) % peers {
                0 => {
                    let input = l.clone();
                    let start = Instant::now();
                    model.run_plane(input, size, size, precision, 0.0)?;
                    a = start.elapsed().as_secs_f64();
                }
                1 => b = ort.run(size, size)?,
                _ => {
                    c = openvino
                        .as_deref_mut()
                        .expect("three peers")
                        .run(size, size)?
                }
            }
        }
        ours.push(a);
        theirs.push(b);
        ratios.push(a / b);
        if peers == 3 {
            ov_times.push(c);
            ov_ratios.push(a / c);
        }
    }
    let have_ov = openvino.is_some();
    Ok(SizeResult {
        size,
        precision: precision.name().to_string(),
        precision_native: precision.runs_natively(),
        ours_first_s,
        ours_median_s: median(&mut ours),
        ort_median_s: median(&mut theirs),
        ratio: median(&mut ratios),
        max_abs_diff,
        openvino_precision: have_ov.then(|| openvino_precision(precision).to_string()),
        openvino_median_s: have_ov.then(|| median(&mut ov_times)),
        ratio_openvino: have_ov.then(|| median(&mut ov_ratios)),
        max_abs_diff_openvino,
        rounds,
    })
}

fn bytes_of(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn floats_of(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
