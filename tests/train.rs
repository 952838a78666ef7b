//! Trainer tests (feature `train`): losses are unit-tested in `src/train/loss.rs`; here the
//! whole loop on tiny generated data — learning, resuming, interrupting, exporting — and
//! every bad input the trainer must refuse with one clear line.
#![cfg(feature = "train")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use colorize::train::{checkpoint, export, net};
use image::{Rgb, RgbImage};
use tch::{Kind, Tensor};
use tract_onnx::prelude::*;

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

fn history(dir: &Path) -> Vec<checkpoint::EpochRecord> {
    checkpoint::load(dir)
        .unwrap()
        .expect("checkpoint")
        .state
        .history
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
        h[3].train_loss < h[0].train_loss * 0.8,
        "train loss did not fall: {h:?}"
    );
    assert!(
        h[3].val_loss < h[0].val_loss,
        "val loss did not fall: {h:?}"
    );
    for f in [
        "history.csv",
        "loss.png",
        "samples-epoch-004.png",
        checkpoint::FILE_NAME,
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
    let (a, b) = (
        checkpoint::load(&straight).unwrap().unwrap(),
        checkpoint::load(&resumed).unwrap().unwrap(),
    );
    assert_eq!(a.state.epoch, 2);
    assert_eq!(b.state.epoch, 2);
    assert_eq!(a.state.adam_step, b.state.adam_step);
    for (name, t) in a.params() {
        let u = b.params().into_iter().find(|(n, _)| *n == name).unwrap().1;
        let diff = (&t - &u).abs().max().double_value(&[]);
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

#[test]
fn interrupt_saves_a_resumable_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_dataset(&data, 40, 40);
    let out = tmp.path().join("run");
    let v = vgg();
    let mut args = train_args(
        data.to_str().unwrap(),
        out.to_str().unwrap(),
        "50",
        v.to_str().unwrap(),
    );
    set_batch_size(&mut args, "2");
    let child = Command::new(BIN)
        .args(&args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first completed epoch, then interrupt mid-run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !out.join(checkpoint::FILE_NAME).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let res = child.wait_with_output().unwrap();
    assert_eq!(res.status.code(), Some(130), "{}", stderr(&res));
    assert!(stderr(&res).contains("interrupted"), "{}", stderr(&res));
    let saved = checkpoint::load(&out).unwrap().unwrap();
    assert!(saved.state.epoch >= 1);
    // Resuming with a smaller epoch budget finishes cleanly from the saved state.
    let target = (saved.state.epoch + 1).to_string();
    let mut args = train_args(
        data.to_str().unwrap(),
        out.to_str().unwrap(),
        &target,
        v.to_str().unwrap(),
    );
    set_batch_size(&mut args, "2");
    let res = run(&args);
    assert!(res.status.success(), "{}", stderr(&res));
    assert_eq!(
        checkpoint::load(&out).unwrap().unwrap().state.epoch,
        saved.state.epoch + 1
    );
    // No temp files are left beside the checkpoint.
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The exported ONNX file, run by tract, matches the trainer's own forward pass.
fn parity(encoder: net::EncoderKind, pretrained: PathBuf, widths: Vec<i64>, output_stride: i64) {
    tch::manual_seed(3);
    let config = net::DecoderConfig {
        widths,
        output_stride,
        global_context: true,
    };
    let network =
        net::Network::new(encoder, Some(&pretrained), config, false, tch::Device::Cpu).unwrap();
    let (h, w) = (48i64, 64i64);
    let l =
        (Tensor::rand([1, 1, h, w], (Kind::Float, tch::Device::Cpu)) * 100.0).to_kind(Kind::Float);
    network.standardise_features(&l);
    let expected = tch::no_grad(|| network.forward(&l)) * net::AB_SCALE;
    let bytes = export::to_onnx(&network, &Default::default());
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .unwrap()
        .with_input_fact(0, f32::fact([1, 1, h as usize, w as usize]).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input: Vec<f32> = Vec::try_from(&l.flatten(0, -1)).unwrap();
    let input =
        tract_onnx::prelude::Tensor::from_shape(&[1, 1, h as usize, w as usize], &input).unwrap();
    let out = model.run(tvec!(input.into_tvalue())).unwrap();
    assert_eq!(
        out[0].shape(),
        &[
            1,
            2,
            (h / output_stride) as usize,
            (w / output_stride) as usize
        ]
    );
    let got: Vec<f32> = out[0]
        .try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec();
    let want: Vec<f32> = Vec::try_from(&expected.flatten(0, -1)).unwrap();
    let max = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let scale = want.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    assert!(scale > 0.1, "degenerate test: outputs are all ~0");
    assert!(max <= 1e-3, "max |Δab| = {max} (outputs up to {scale})");
}

#[test]
fn export_parity_vgg19() {
    parity(net::EncoderKind::Vgg19, vgg(), vec![32], 2);
}

#[test]
fn export_parity_eccv16_full_resolution() {
    parity(net::EncoderKind::Eccv16, eccv(), vec![32, 16, 8], 1);
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
        "colorize.format",
        "colorize.stride",
        "colorize.pad_multiple",
        "colorize.train_size",
        "colorize.loss",
        "colorize.encoder",
        "colorize.dataset",
        "colorize.epochs",
        "colorize.val_loss",
        "colorize.attribution",
    ] {
        assert!(meta.contains_key(key), "{key} missing from {meta:?}");
    }
    assert_eq!(meta["colorize.stride"], "2");
    assert_eq!(meta["colorize.loss"], "l2");
    assert!(meta["colorize.attribution"].contains("VGG"));
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
        !out.join(checkpoint::FILE_NAME).exists(),
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
    let before = std::fs::read(out.join(checkpoint::FILE_NAME)).unwrap();
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
        std::fs::read(out.join(checkpoint::FILE_NAME)).unwrap(),
        "checkpoint changed"
    );
}
