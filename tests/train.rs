//! Trainer tests (feature `train`): losses are unit-tested in `src/train/loss.rs`; here the
//! whole loop on tiny generated data — learning, resuming, interrupting, exporting — and
//! every bad input the trainer must refuse with one clear line.
#![cfg(feature = "train")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use colorize::contract::keys;
use image::{Rgb, RgbImage};
use tract_onnx::prelude::Framework;

const BIN: &str = env!("CARGO_BIN_EXE_colorize-train");

fn vgg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pretrained/vgg19_relu3_1.safetensors")
}

fn eccv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pretrained/eccv16_conv1_3.safetensors")
}

/// Colourful synthetic photos whose colour follows their structure (sky-blue top rows,
/// green textured bottom), so there is something to learn from L* alone.
fn make_dataset(dir: &Path, count: u32, size: u32) {
    for i in 0..count {
        let category = if i % 2 == 0 { "hills" } else { "coast" };
        std::fs::create_dir_all(dir.join(category)).unwrap();
        let img = RgbImage::from_fn(size, size, |x, y| {
            let horizon = size / 3 + (i * 7 + x / 5) % (size / 4);
            if y < horizon {
                let t = (y * 90 / size) as u8;
                Rgb([70 + t, 130 + t, 230])
            } else {
                let n = ((x * 31 + y * 17 + i * 13) % 40) as u8;
                Rgb([40 + n, 120 + n, 30 + n / 2])
            }
        });
        img.save(dir.join(category).join(format!("img{i:03}.png")))
            .unwrap();
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run colorize-train")
}

fn train_args<'a>(data: &'a str, out: &'a str, epochs: &'a str, vgg: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--data",
        data,
        "--out",
        out,
        "--pretrained",
        vgg,
        "--widths",
        "32",
        "--output-stride",
        "2",
        "--global-context",
        "--crop",
        "32",
        "--batch-size",
        "4",
        "--epochs",
        epochs,
        "--val-split",
        "0.2",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--lr",
        "0.003",
        "--seed",
        "7",
    ]
}

fn set_batch_size<'a>(args: &mut [&'a str], value: &'a str) {
    let i = args.iter().position(|a| *a == "--batch-size").unwrap();
    args[i + 1] = value;
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const CHECKPOINT: &str = "checkpoint.safetensors";

/// The checkpoint's tensors, read with the safetensors crate (the trainer's modules live
/// in its binary, so these tests see only its files and its command line).
fn checkpoint_tensors(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(dir.join(CHECKPOINT)).expect("checkpoint");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("checkpoint parses");
    let mut out: Vec<(String, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.data().to_vec()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The checkpoint's JSON record (configuration, epoch, history).
fn record(dir: &Path) -> serde_json::Value {
    let meta = checkpoint_tensors(dir)
        .into_iter()
        .find(|(n, _)| n == "meta")
        .expect("meta")
        .1;
    serde_json::from_slice(&meta).expect("record parses")
}

fn history(dir: &Path) -> Vec<serde_json::Value> {
    record(dir)["history"].as_array().unwrap().clone()
}

fn as_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn loss_decreases_and_reports_are_written() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_dataset(&data, 20, 40);
    let out = tmp.path().join("run");
    let (d, o, v) = (data.to_str().unwrap(), out.to_str().unwrap(), vgg());
    let res = run(&train_args(d, o, "4", v.to_str().unwrap()));
    assert!(res.status.success(), "{}", stderr(&res));
    let h = history(&out);
    assert_eq!(h.len(), 4);
    assert!(
        h[3]["train_loss"].as_f64().unwrap() < h[0]["train_loss"].as_f64().unwrap() * 0.8,
        "train loss did not fall: {h:?}"
    );
    assert!(
        h[3]["val_loss"].as_f64().unwrap() < h[0]["val_loss"].as_f64().unwrap(),
        "val loss did not fall: {h:?}"
    );
    for f in [
        "history.csv",
        "loss.png",
        "samples-epoch-004.png",
        CHECKPOINT,
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    assert_eq!(
        std::fs::read_to_string(out.join("history.csv"))
            .unwrap()
            .lines()
            .count(),
        5
    );
    image::open(out.join("loss.png")).expect("plot decodes");
}

#[test]
fn resume_continues_exactly_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_dataset(&data, 16, 40);
    let d = data.to_str().unwrap();
    let v = vgg();
    let (straight, resumed) = (tmp.path().join("straight"), tmp.path().join("resumed"));
    assert!(run(&train_args(
        d,
        straight.to_str().unwrap(),
        "2",
        v.to_str().unwrap()
    ))
    .status
    .success());
    let first = run(&train_args(
        d,
        resumed.to_str().unwrap(),
        "1",
        v.to_str().unwrap(),
    ));
    assert!(first.status.success(), "{}", stderr(&first));
    let second = run(&train_args(
        d,
        resumed.to_str().unwrap(),
        "2",
        v.to_str().unwrap(),
    ));
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(stderr(&second).contains("resuming"), "{}", stderr(&second));
    let (ra, rb) = (record(&straight), record(&resumed));
    assert_eq!(ra["epoch"], 2);
    assert_eq!(rb["epoch"], 2);
    assert_eq!(ra["adam_step"], rb["adam_step"]);
    let (a, b) = (checkpoint_tensors(&straight), checkpoint_tensors(&resumed));
    assert_eq!(a.len(), b.len());
    for ((name, ta), (name_b, tb)) in a.iter().zip(&b) {
        assert_eq!(name, name_b);
        if !name.starts_with("param.") && !name.starts_with("adam_") {
            continue;
        }
        let diff = as_f32(ta)
            .iter()
            .zip(as_f32(tb))
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff < 1e-5,
            "{name} differs by {diff} between straight and resumed runs"
        );
    }
    // A finished run asked for no more epochs does nothing and says so.
    let again = run(&train_args(
        d,
        resumed.to_str().unwrap(),
        "2",
        v.to_str().unwrap(),
    ));
    assert!(again.status.success());
    assert_eq!(history(&resumed).len(), 2);
}

/// A run long enough to be interrupted: 40 photos, batches of 2, up to 50 epochs.
struct LongRun {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    out: PathBuf,
    vgg: PathBuf,
}

impl LongRun {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        make_dataset(&data, 40, 40);
        let out = tmp.path().join("run");
        LongRun {
            _tmp: tmp,
            data,
            out,
            vgg: vgg(),
        }
    }

    fn args(&self, epochs: u64) -> Vec<String> {
        let epochs = epochs.to_string();
        let mut args = train_args(
            self.data.to_str().unwrap(),
            self.out.to_str().unwrap(),
            &epochs,
            self.vgg.to_str().unwrap(),
        );
        set_batch_size(&mut args, "2");
        args.into_iter().map(String::from).collect()
    }

    /// Resumes a run stopped after `saved` epochs for one more, which must succeed.
    fn resume_one_more_epoch(&self, saved: u64) {
        let args = self.args(saved + 1);
        let res = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(res.status.success(), "{}", stderr(&res));
        assert_eq!(record(&self.out)["epoch"].as_u64().unwrap(), saved + 1);
    }

    /// Names in the checkpoint folder that look like temp files.
    fn temp_files(&self) -> Vec<String> {
        std::fs::read_dir(&self.out)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("tmp"))
            .collect()
    }
}

#[test]
fn interrupt_saves_a_resumable_checkpoint() {
    let long = LongRun::new();
    let (out, args) = (long.out.clone(), long.args(50));
    let child = Command::new(BIN)
        .args(&args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first completed epoch, then interrupt mid-run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !out.join(CHECKPOINT).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let res = child.wait_with_output().unwrap();
    assert_eq!(res.status.code(), Some(130), "{}", stderr(&res));
    assert!(stderr(&res).contains("interrupted"), "{}", stderr(&res));
    let saved_epoch = record(&out)["epoch"].as_u64().unwrap();
    assert!(saved_epoch >= 1);
    // Resuming with a smaller epoch budget finishes cleanly from the saved state.
    long.resume_one_more_epoch(saved_epoch);
    // No temp files are left beside the checkpoint.
    let leftovers = long.temp_files();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn export_writes_contract_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_dataset(&data, 12, 40);
    let out = tmp.path().join("run");
    let v = vgg();
    assert!(run(&train_args(
        data.to_str().unwrap(),
        out.to_str().unwrap(),
        "1",
        v.to_str().unwrap()
    ))
    .status
    .success());
    let onnx = tmp.path().join("m.onnx");
    let res = run(&[
        "export",
        "--run",
        out.to_str().unwrap(),
        "-o",
        onnx.to_str().unwrap(),
        "--name",
        "test-l2",
    ]);
    assert!(res.status.success(), "{}", stderr(&res));
    let proto = tract_onnx::onnx().proto_model_for_path(&onnx).unwrap();
    let meta: std::collections::HashMap<_, _> = proto
        .metadata_props
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_str()))
        .collect();
    for key in [
        keys::FORMAT,
        keys::STRIDE,
        keys::PAD_MULTIPLE,
        keys::TRAIN_SIZE,
        keys::LOSS,
        keys::ENCODER,
        keys::DATASET,
        keys::EPOCHS,
        keys::VAL_LOSS,
        keys::ATTRIBUTION,
    ] {
        assert!(meta.contains_key(key), "{key} missing from {meta:?}");
    }
    assert_eq!(meta[keys::STRIDE], "2");
    assert_eq!(meta[keys::LOSS], "l2");
    assert!(meta[keys::ATTRIBUTION].contains("VGG"));
}

fn assert_clean_failure(res: &Output, needle: &str, out: &Path) {
    assert!(!res.status.success(), "expected failure");
    let err = stderr(res);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(lines.len(), 1, "want one error line, got: {err}");
    assert!(
        err.contains(needle),
        "error should mention '{needle}': {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !out.join(CHECKPOINT).exists(),
        "a checkpoint was written after a failed start"
    );
}

#[test]
fn bad_inputs_give_one_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = out.to_str().unwrap();
    let v = vgg();
    let vs = v.to_str().unwrap();

    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_clean_failure(
        &run(&train_args(empty.to_str().unwrap(), o, "1", vs)),
        "no images",
        &out,
    );

    let junk = tmp.path().join("junk");
    std::fs::create_dir_all(junk.join("c")).unwrap();
    make_dataset(&junk, 6, 40);
    std::fs::write(junk.join("c/broken.jpg"), b"this is not a jpeg").unwrap();
    assert_clean_failure(
        &run(&train_args(junk.to_str().unwrap(), o, "1", vs)),
        "broken.jpg",
        &out,
    );

    let data = tmp.path().join("data");
    make_dataset(&data, 8, 40);
    let d = data.to_str().unwrap();
    assert_clean_failure(
        &run(&train_args(d, o, "1", "/nonexistent/vgg.safetensors")),
        "not found",
        &out,
    );
    let e = eccv();
    assert_clean_failure(
        &run(&train_args(d, o, "1", e.to_str().unwrap())),
        "conv1_1",
        &out,
    );
    let not_weights = tmp.path().join("weights.safetensors");
    std::fs::write(&not_weights, b"garbage").unwrap();
    assert_clean_failure(
        &run(&train_args(d, o, "1", not_weights.to_str().unwrap())),
        "weights",
        &out,
    );

    let grey = tmp.path().join("grey");
    std::fs::create_dir_all(&grey).unwrap();
    for i in 0..5u8 {
        RgbImage::from_fn(40, 40, |x, _| Rgb([(x as u8) * 5 + i; 3]))
            .save(grey.join(format!("g{i}.png")))
            .unwrap();
    }
    assert_clean_failure(
        &run(&train_args(grey.to_str().unwrap(), o, "1", vs)),
        "near-grey",
        &out,
    );

    let locked = tmp.path().join("locked");
    std::fs::create_dir_all(&locked).unwrap();
    let mut perms = std::fs::metadata(&locked).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o500);
    std::fs::set_permissions(&locked, perms).unwrap();
    let inside = locked.join("run");
    let is_root = unsafe { libc::geteuid() } == 0;
    if is_root {
        // root ignores permissions; a path under a regular file is unwritable for everyone.
        let file = tmp.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let under = file.join("run");
        assert_clean_failure(
            &run(&train_args(d, under.to_str().unwrap(), "1", vs)),
            "checkpoint folder",
            &under,
        );
    } else {
        assert_clean_failure(
            &run(&train_args(d, inside.to_str().unwrap(), "1", vs)),
            "checkpoint folder",
            &inside,
        );
    }

    let res = run(&[
        "export",
        "--run",
        tmp.path().join("nothing").to_str().unwrap(),
        "-o",
        "/tmp/x.onnx",
        "--name",
        "x",
    ]);
    assert!(!res.status.success());
    assert!(stderr(&res).contains("no checkpoint"));
}

#[test]
fn a_changed_configuration_is_refused_not_mixed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_dataset(&data, 8, 40);
    let out = tmp.path().join("run");
    let v = vgg();
    let (d, o, vs) = (
        data.to_str().unwrap(),
        out.to_str().unwrap(),
        v.to_str().unwrap(),
    );
    assert!(run(&train_args(d, o, "1", vs)).status.success());
    let before = std::fs::read(out.join(CHECKPOINT)).unwrap();
    let mut args = train_args(d, o, "2", vs);
    args.extend(["--loss", "huber"]);
    let res = run(&args);
    assert!(!res.status.success());
    assert!(
        stderr(&res).contains("different model configuration"),
        "{}",
        stderr(&res)
    );
    assert_eq!(
        before,
        std::fs::read(out.join(CHECKPOINT)).unwrap(),
        "checkpoint changed"
    );
}

#[test]
fn prepare_resizes_once_mirroring_the_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_dataset(&src, 4, 60);
    std::fs::create_dir_all(src.join("coast")).unwrap();
    RgbImage::from_fn(90, 50, |x, y| Rgb([x as u8, y as u8, 100]))
        .save(src.join("coast/wide.png"))
        .unwrap();
    let before = std::fs::read(src.join("coast/wide.png")).unwrap();
    let dst = tmp.path().join("dst");
    let res = run(&[
        "prepare",
        src.to_str().unwrap(),
        dst.to_str().unwrap(),
        "--size",
        "32",
    ]);
    assert!(res.status.success(), "{}", stderr(&res));
    assert!(
        String::from_utf8_lossy(&res.stdout).contains("5 written"),
        "{}",
        String::from_utf8_lossy(&res.stdout)
    );
    let wide = image::open(dst.join("coast/wide.png")).unwrap();
    assert_eq!((wide.width(), wide.height()), (32, 32));
    assert_eq!(
        image::open(dst.join("hills/img000.png")).unwrap().width(),
        32
    );
    assert_eq!(
        before,
        std::fs::read(src.join("coast/wide.png")).unwrap(),
        "input changed"
    );
    let again = run(&[
        "prepare",
        src.to_str().unwrap(),
        dst.to_str().unwrap(),
        "--size",
        "32",
    ]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("5 already there"));
}

/// Crash safety: a trainer SIGKILLed mid-epoch (no handler runs) resumes from its last complete
/// checkpoint; the checkpoint on disk always parses (it is never left half-written) and
/// holds exactly the finished epochs.
#[test]
fn sigkill_mid_epoch_resumes_from_the_last_checkpoint() {
    let long = LongRun::new();
    let (out, args) = (long.out.clone(), long.args(50));
    let mut child = Command::new(BIN)
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the second checkpoint has been written (or the first, if slow), then
    // kill soon after: the next epoch, and maybe the next checkpoint write, is under way.
    let modified = || {
        std::fs::metadata(out.join(CHECKPOINT))
            .and_then(|m| m.modified())
            .ok()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    let (mut last, mut writes) = (None, 0);
    while writes < 2 && std::time::Instant::now() < deadline {
        let now = modified();
        if now.is_some() && now != last {
            writes += 1;
            last = now;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(writes >= 1, "no checkpoint within 180 s");
    std::thread::sleep(std::time::Duration::from_millis(150));
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL),
        "the trainer ended before the kill"
    );
    let saved = record(&out)["epoch"].as_u64().unwrap();
    assert!(saved >= 1);
    assert_eq!(
        history(&out).len() as u64,
        saved,
        "history holds whole epochs only"
    );
    long.resume_one_more_epoch(saved);
    assert_eq!(history(&out).len() as u64, saved + 1);
    let visible_temps: Vec<_> = long
        .temp_files()
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(visible_temps.is_empty(), "{visible_temps:?}");
}
