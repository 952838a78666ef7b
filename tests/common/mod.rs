//! Small ONNX models for the tests, made with the project's one builder (`colorize::onnx`,
//! its shared `test_models` and the contract module; never trained weights):
//! contract-conforming ones whose output is a known function of L*, contract-breaking
//! ones and hostile ones (resource limits). Shared by the engine, C API, CLI and example
//! tests, with the CLI tests' fixture below.
#![allow(dead_code)]

use colorize::contract::{self, keys, Contract};
use colorize::onnx::pb::tensor_proto::DataType;
use colorize::onnx::{test_models, Attr, Dim, GraphBuilder};

fn io_dims(channels: i64) -> [Dim; 4] {
    [
        Dim::Symbolic("N"),
        Dim::Fixed(channels),
        Dim::Symbolic("H"),
        Dim::Symbolic("W"),
    ]
}

/// The contract of a test model without a fixed input size, described as a test model.
fn contract_metadata(g: &mut GraphBuilder, stride: usize, pad_multiple: usize, train_size: usize) {
    g.contract(&Contract {
        stride,
        pad_multiple,
        train_size,
        input_size: None,
    });
    test_models::describe_as_test(g);
}

/// A phrase an error message must contain, built from the contract's key names. Leaked:
/// a few bytes per call, in tests only, so that the list keeps its `&'static str` type.
fn phrase(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// a* = a_gain (L* - 50), b* = b_gain (L* - 50), per pixel, full resolution.
pub fn linear_model(a_gain: f32, b_gain: f32) -> Vec<u8> {
    colorize::onnx::linear_test_model(a_gain, b_gain)
}

/// a*, b* = gains x (mean L* of each `stride` x `stride` block - 50), at 1/stride
/// resolution; input sides must be multiples of `pad_multiple`.
pub fn strided_model(stride: usize, pad_multiple: usize, a_gain: f32, b_gain: f32) -> Vec<u8> {
    let mut g = test_models::strided(stride, pad_multiple, 64, a_gain, b_gain);
    test_models::describe_as_test(&mut g);
    g.to_bytes()
}

/// Deterministic pseudo-random weights in -scale..scale.
fn weights(count: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// A small encoder-decoder with fixed pseudo-random weights (conv, strided conv,
/// transposed conv): its output depends on each pixel's neighbourhood, like a real one.
/// pad_multiple 2, stride 1.
pub fn spatial_model() -> Vec<u8> {
    let mut g = GraphBuilder::new("spatial-test");
    let l = g.contract_input(None);
    let x = g.affine(&l, 0.02, -1.0);
    let c1 = g.conv(
        &x,
        &weights(4 * 9, 1, 0.5),
        &weights(4, 2, 0.1),
        4,
        1,
        3,
        1,
        1,
    );
    let r1 = g.relu(&c1);
    let c2 = g.conv(
        &r1,
        &weights(4 * 4 * 9, 3, 0.3),
        &weights(4, 4, 0.1),
        4,
        4,
        3,
        2,
        1,
    );
    let r2 = g.relu(&c2);
    let d = g.conv_transpose(
        &r2,
        &weights(4 * 2 * 16, 5, 0.3),
        &weights(2, 6, 0.1),
        4,
        2,
        4,
        2,
        1,
    );
    let y = g.affine(&d, 40.0, 0.0);
    g.contract_output(&y, None);
    contract_metadata(&mut g, 1, 2, 32);
    g.to_bytes()
}

/// A model with one convolution wide enough (3x3 over 64 channels: K = 576) for the
/// matrix-product kernel that precision bf16 selects (from K 128 up; narrower ones stay
/// f32): 1x1 to 64 channels, ReLU, 3x3 to 16 channels, ReLU, 1x1 to a*, b*. Stride 1.
pub fn wide_model() -> Vec<u8> {
    wide_model_with_stride(1)
}

/// [`wide_model`] with its 3x3 convolution at `stride` (the model's output stride).
pub fn wide_model_with_stride(stride: usize) -> Vec<u8> {
    let mut g = GraphBuilder::new("wide-test");
    let l = g.contract_input(None);
    let x = g.affine(&l, 0.02, -1.0);
    let c1 = g.conv(
        &x,
        &weights(64, 11, 1.0),
        &weights(64, 12, 0.5),
        64,
        1,
        1,
        1,
        0,
    );
    let r1 = g.relu(&c1);
    let c2 = g.conv(
        &r1,
        &weights(16 * 64 * 9, 13, 0.1),
        &weights(16, 14, 0.1),
        16,
        64,
        3,
        stride,
        1,
    );
    let r2 = g.relu(&c2);
    let c3 = g.conv(
        &r2,
        &weights(2 * 16, 15, 0.5),
        &weights(2, 16, 0.1),
        2,
        16,
        1,
        1,
        0,
    );
    let y = g.affine(&c3, 40.0, 0.0);
    g.contract_output(&y, None);
    contract_metadata(&mut g, stride, stride, 32);
    g.to_bytes()
}

/// A model that only takes `side` x `side` input (metadata `colorize.input_size`), like
/// one exported elsewhere with fixed shapes.
pub fn fixed_size_model(side: usize, a_gain: f32, b_gain: f32) -> Vec<u8> {
    test_models::fixed_size(side, a_gain, b_gain).to_bytes()
}

/// Contract-breaking models, each with the phrase its error message must contain.
pub fn broken_models() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut out = Vec::new();

    let mut g = GraphBuilder::new("three-channels");
    g.input("L", &io_dims(1));
    let y = g.conv("L", &[1.0, 1.0, 1.0], &[0.0, 0.0, 0.0], 3, 1, 1, 1, 0);
    g.node_named("Identity", &[&y], &["ab"], &[]);
    g.output("ab", &io_dims(3));
    contract_metadata(&mut g, 1, 1, 64);
    out.push(("three output channels", g.to_bytes(), "2 channel"));

    let mut g = GraphBuilder::new("hidden-three-channels");
    g.input("L", &io_dims(1));
    let y = g.conv("L", &[1.0, 1.0, 1.0], &[0.0, 0.0, 0.0], 3, 1, 1, 1, 0);
    g.node_named("Identity", &[&y], &["ab"], &[]);
    g.output(
        "ab",
        &[
            Dim::Symbolic("N"),
            Dim::Symbolic("C"),
            Dim::Symbolic("H"),
            Dim::Symbolic("W"),
        ],
    );
    contract_metadata(&mut g, 1, 1, 64);
    out.push(("three channels, undeclared", g.to_bytes(), "expected [1, 2"));

    let mut g = GraphBuilder::new("no-format");
    g.input("L", &io_dims(1));
    let y = g.conv("L", &[1.0, 1.0], &[0.0, 0.0], 2, 1, 1, 1, 0);
    g.node_named("Identity", &[&y], &["ab"], &[]);
    g.output("ab", &io_dims(2));
    g.metadata(keys::STRIDE, 1);
    out.push((
        "no colorize.format",
        g.to_bytes(),
        phrase(format!("{} is missing", keys::FORMAT)),
    ));

    let mut g = GraphBuilder::new("wrong-stride");
    g.input("L", &io_dims(1));
    let y = g.conv("L", &[1.0, 1.0], &[0.0, 0.0], 2, 1, 1, 1, 0);
    g.node_named("Identity", &[&y], &["ab"], &[]);
    g.output("ab", &io_dims(2));
    contract_metadata(&mut g, 2, 2, 64);
    out.push((
        "stride metadata disagrees with the graph",
        g.to_bytes(),
        phrase(format!("{} = 2", keys::STRIDE)),
    ));

    let mut g = GraphBuilder::new("two-inputs");
    g.input("L", &io_dims(1));
    g.input("extra", &io_dims(1));
    let y = g.conv("L", &[1.0, 1.0], &[0.0, 0.0], 2, 1, 1, 1, 0);
    let z = g.node("Add", &[&y, "extra"], &[]);
    g.node_named("Identity", &[&z], &["ab"], &[]);
    g.output("ab", &io_dims(2));
    contract_metadata(&mut g, 1, 1, 64);
    out.push(("two inputs", g.to_bytes(), "exactly 1 input"));

    let mut g = GraphBuilder::new("rank-3");
    g.input(
        "L",
        &[Dim::Symbolic("N"), Dim::Symbolic("H"), Dim::Symbolic("W")],
    );
    g.node_named("Identity", &["L"], &["ab"], &[]);
    g.output(
        "ab",
        &[Dim::Symbolic("N"), Dim::Symbolic("H"), Dim::Symbolic("W")],
    );
    contract_metadata(&mut g, 1, 1, 64);
    out.push(("rank-3 input", g.to_bytes(), "rank 4"));

    let mut g = GraphBuilder::new("no-train-size");
    g.input("L", &io_dims(1));
    let y = g.conv("L", &[1.0, 1.0], &[0.0, 0.0], 2, 1, 1, 1, 0);
    g.node_named("Identity", &[&y], &["ab"], &[]);
    g.output("ab", &io_dims(2));
    g.metadata(keys::FORMAT, contract::FORMAT_VERSION);
    g.metadata(keys::STRIDE, 1);
    g.metadata(keys::PAD_MULTIPLE, 1);
    out.push((
        "no train size",
        g.to_bytes(),
        phrase(format!("{} is missing", keys::TRAIN_SIZE)),
    ));

    // Classification models: the temperature input must be float32 [1], after L*, and the
    // default vividness within range.
    let temperature_model = |dims: &[Dim], first: bool| {
        let mut g = GraphBuilder::new("bad-temperature");
        if first {
            g.input(contract::TEMPERATURE_INPUT_NAME, dims);
            g.input("L", &io_dims(1));
        } else {
            g.input("L", &io_dims(1));
            g.input(contract::TEMPERATURE_INPUT_NAME, dims);
        }
        let y = g.conv("L", &[1.0, 1.0], &[0.0, 0.0], 2, 1, 1, 1, 0);
        let z = g.node("Div", &[&y, contract::TEMPERATURE_INPUT_NAME], &[]);
        g.node_named("Identity", &[&z], &["ab"], &[]);
        g.output("ab", &io_dims(2));
        contract_metadata(&mut g, 1, 1, 64);
        g.to_bytes()
    };
    out.push((
        "temperature of shape [2]",
        temperature_model(&[Dim::Fixed(2)], false),
        "must be float32 of shape [1]",
    ));
    out.push((
        "temperature before L*",
        temperature_model(&[Dim::Fixed(1)], true),
        "must come second",
    ));
    let mut g = test_models::two_classes(0.1, None);
    g.metadata(keys::DEFAULT_VIVIDNESS, "50");
    out.push((
        "default vividness out of range",
        g.to_bytes(),
        phrase(format!("{} must be a number from", keys::DEFAULT_VIVIDNESS)),
    ));
    out
}

// ---- hostile models: each is small, and each would take the host down without the limits

/// The linear test model with some metadata entries replaced.
pub fn metadata_model(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut g = test_models::linear_graph(0.5, -0.25);
    for (key, value) in entries {
        g.metadata(key, value);
    }
    g.to_bytes()
}

/// a*b* of the linear model plus the mean of a constant of the given shape: with a large
/// shape, a bomb that tract would allocate while it analyses the graph.
pub fn constant_of_shape_model(shape: &[i64]) -> Vec<u8> {
    let mut g = GraphBuilder::new("constant-of-shape");
    let shape = g.initializer_i64("shape", shape);
    let constant = g.node("ConstantOfShape", &[&shape], &[]);
    added_to_linear(g, &constant)
}

/// The linear model's a*b* plus the mean of `constant` (any shape), as the output.
fn added_to_linear(mut g: GraphBuilder, constant: &str) -> Vec<u8> {
    let l = g.contract_input(None);
    let y = g.conv(&l, &[0.5, -0.25], &[-25.0, 12.5], 2, 1, 1, 1, 0);
    let constant = g.node("Cast", &[constant], &[("to", Attr::Int(1))]);
    let mean = g.node("ReduceMean", &[&constant], &[("keepdims", Attr::Int(1))]);
    let sum = g.node("Add", &[&y, &mean], &[]);
    g.contract_output(&sum, None);
    g.contract(&test_models::full_resolution(64));
    g.to_bytes()
}

/// Zeros of the input's shape times `factor` (ConstantOfShape of Shape(L) * factor) added
/// to a*b*: tract folds it once the input size is known, at load and for every plan.
pub fn scaled_shape_model(factor: i64) -> Vec<u8> {
    let mut g = GraphBuilder::new("scaled-shape");
    let l = g.contract_input(None);
    let shape = g.node("Shape", &[&l], &[]);
    let factor = g.initializer_i64("factor", &[factor]);
    let scaled = g.node("Mul", &[&shape, &factor], &[]);
    let zeros = g.node("ConstantOfShape", &[&scaled], &[]);
    // tract's ConstantOfShape without a value attribute gives float64 zeros.
    let zeros = g.node("Cast", &[&zeros], &[("to", Attr::Int(1))]);
    let y = g.conv(&l, &[0.5, -0.25], &[-25.0, 12.5], 2, 1, 1, 1, 0);
    let sum = g.node("Add", &[&y, &zeros], &[]);
    g.contract_output(&sum, None);
    g.contract(&test_models::full_resolution(64));
    g.to_bytes()
}

/// The linear model with an extra float initializer declaring `dims` but holding `bytes`.
pub fn lying_initializer_model(dims: &[i64], bytes: usize) -> Vec<u8> {
    let mut g = test_models::linear_graph(0.5, -0.25);
    g.raw_initializer("lying", dims, DataType::Float, vec![0; bytes]);
    g.to_bytes()
}

/// `op` (Expand, Tile or Range) making a constant of about `side` x `side` elements from
/// small constants, added to the linear model's a*b* through its mean.
pub fn expanding_constant_model(op: &str, side: i64) -> Vec<u8> {
    let mut g = GraphBuilder::new(&format!("{op}-constant"));
    let float_scalar = |g: &mut GraphBuilder, v: f32| {
        g.raw_initializer("scalar", &[], DataType::Float, v.to_le_bytes().to_vec())
    };
    let constant = match op {
        "Expand" => {
            let one = g.initializer("one", &[1], &[1.0]);
            let shape = g.initializer_i64("shape", &[1, 1, side, side]);
            g.node("Expand", &[&one, &shape], &[])
        }
        "Tile" => {
            let one = g.initializer("one", &[1, 1, 1, 1], &[1.0]);
            let repeats = g.initializer_i64("repeats", &[1, 1, side, side]);
            g.node("Tile", &[&one, &repeats], &[])
        }
        "Range" => {
            let start = float_scalar(&mut g, 0.0);
            let limit = float_scalar(&mut g, (side * side) as f32);
            let delta = float_scalar(&mut g, 1.0);
            g.node("Range", &[&start, &limit, &delta], &[])
        }
        _ => panic!("no expanding model for {op}"),
    };
    added_to_linear(g, &constant)
}

/// Writes `bytes` to a new file in a temporary folder that lives as long as the result.
pub fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    (dir, path)
}

/// target/release (where libcolorize.so and the binaries are), found from the test binary
/// itself (target/release/deps/NAME-HASH).
pub fn target_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/release")
        .to_path_buf()
}

/// The folder holding the freshly built libcolorize.so: `cargo test` builds the cdylib into
/// target/release/deps (only `cargo build` copies it up to target/release).
pub fn library_dir() -> std::path::PathBuf {
    let deps = target_dir().join("deps");
    if deps.join("libcolorize.so").exists() {
        deps
    } else {
        target_dir()
    }
}

/// Compiles C or C++ `sources` into `output`, linked against target/release/libcolorize.so
/// (rpath set) with include/ on the include path. Panics with the compiler's output.
pub fn compile_against_library(
    compiler: &str,
    sources: &[&std::path::Path],
    output: &std::path::Path,
    extra: &[&str],
) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib_dir = library_dir();
    assert!(
        lib_dir.join("libcolorize.so").exists(),
        "{} has no libcolorize.so",
        lib_dir.display()
    );
    let status = std::process::Command::new(compiler)
        .args(sources)
        .arg("-I")
        .arg(root.join("include"))
        .args(extra)
        .arg("-o")
        .arg(output)
        .arg("-L")
        .arg(&lib_dir)
        .arg("-lcolorize")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .args(["-lpthread", "-lm"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(
        status.status.success(),
        "{compiler} failed:\n{}{}",
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr)
    );
}

/// A small PNG file whose header claims `width` x `height` grey pixels: IHDR, a tiny
/// IDAT (an empty zlib stream) and IEND, all with valid CRCs.
pub fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", ihdr),
        (
            b"IDAT",
            vec![0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 1],
        ),
        (b"IEND", vec![]),
    ] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(&data);
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    png
}

pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A temporary folder holding the spatial test model, in which the `colorize` command runs
/// with `--model` set to it: the CLI tests' shared set-up.
pub struct CliFixture {
    pub dir: tempfile::TempDir,
    pub model: std::path::PathBuf,
}

impl CliFixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("spatial.onnx");
        std::fs::write(&model, spatial_model()).unwrap();
        CliFixture { dir, model }
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    pub fn command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_colorize"));
        c.arg("--model")
            .arg(&self.model)
            .current_dir(self.dir.path());
        c
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs `sh -c "colorize --model MODEL ARGS"` in the folder: for pipes and redirections
    /// (`ARGS` is shell text, e.g. `"a.png -o - >&-"` or `"photos -o out --print | head -1"`).
    pub fn shell(&self, args: &str) -> std::process::Output {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "'{}' --model '{}' {args}",
                env!("CARGO_BIN_EXE_colorize"),
                self.model.display()
            ))
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> std::process::Output {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }
}

/// A command's stdout and stderr together, for messages that may go to either.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A grey PNG with a texture, written to `path` (its folder created).
pub fn grey_png(path: &std::path::Path, w: u32, h: u32) {
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 3 + y * 5) % 256) as u8]));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    img.save(path).unwrap();
}

/// A PNG chunk: length, type, data and CRC.
pub fn png_chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

/// Runs `command` to its end, or kills it after `limit` (a hang fails the test instead of
/// blocking it), and returns its output with its peak resident memory in bytes.
pub fn run_bounded(
    mut command: std::process::Command,
    limit: std::time::Duration,
) -> (std::process::Output, u64) {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let started = std::time::Instant::now();
    // Drain the pipes on threads so a chatty child cannot block on them.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).unwrap();
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut v).unwrap();
        v
    });
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if started.elapsed() > limit {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&err_thread.join().unwrap())
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let output = std::process::Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(status),
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
    };
    (output, usage.ru_maxrss as u64 * 1024)
}

/// Whether every optional test must run: `COLORIZE_REQUIRE_ALL=1`, which the suite
/// (`scripts/test.sh`, what CI runs) sets after installing what the tests need.
pub fn all_required() -> bool {
    std::env::var("COLORIZE_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// A test that cannot run here: says so (a line starting "skipped:", which the suite
/// counts), or, when every test is required, fails with the reason.
pub fn skip(reason: &str) {
    assert!(
        !all_required(),
        "required, but cannot run: {reason} (COLORIZE_REQUIRE_ALL=1; scripts/test.sh installs what the tests need)"
    );
    println!("skipped: {reason}");
}
