//! Unit tests of the trainer that need its internals: the exported ONNX file, run by
//! tract, against the trainer's own forward pass (command-line tests: tests/train.rs).

use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};
use tract_onnx::prelude::*;

use super::{export, net};

/// Seeds tch's one global generator and holds it until the guard drops: the test harness
/// runs tests on parallel threads, and without the lock their random draws interleave, so
/// a test's inputs (and its round-off against a tolerance) would change from run to run.
pub(super) fn seeded_rng(seed: i64) -> std::sync::MutexGuard<'static, ()> {
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::manual_seed(seed);
    guard
}

fn vgg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pretrained/vgg19_relu3_1.safetensors")
}

fn eccv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pretrained/eccv16_conv1_3.safetensors")
}

/// The exported ONNX file, run by tract, matches the trainer's own forward pass.
pub(super) fn parity(
    encoder: net::EncoderKind,
    pretrained: PathBuf,
    widths: Vec<i64>,
    output_stride: i64,
) {
    parity_with_curve(
        encoder,
        pretrained,
        widths,
        output_stride,
        export::ChromaCurve::IDENTITY,
    )
}

/// As [`parity`], with a chroma curve in the exported graph checked against
/// [`export::ChromaCurve::factor`] applied to the trainer's output pixel by pixel.
fn parity_with_curve(
    encoder: net::EncoderKind,
    pretrained: PathBuf,
    widths: Vec<i64>,
    output_stride: i64,
    curve: export::ChromaCurve,
) {
    let _rng = seeded_rng(3);
    let config = net::DecoderConfig {
        widths,
        output_stride,
        global_context: true,
        classes: 0,
        class_stride: 0,
    };
    let network = net::Network::new(
        encoder,
        Some(&pretrained),
        config,
        &net::EncoderTuning::Frozen,
        tch::Device::Cpu,
    )
    .unwrap();
    let (h, w) = (48i64, 64i64);
    let l =
        (Tensor::rand([1, 1, h, w], (Kind::Float, tch::Device::Cpu)) * 100.0).to_kind(Kind::Float);
    network.standardise_features(&l);
    let expected = tch::no_grad(|| network.forward(&l)) * net::AB_SCALE;
    let bytes = export::to_onnx(&network, curve, None, &Default::default());
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
    let mut want: Vec<f32> = Vec::try_from(&expected.flatten(0, -1)).unwrap();
    let plane = want.len() / 2;
    for i in 0..plane {
        let (a, b) = (want[i], want[plane + i]);
        let factor = curve.factor((a * a + b * b).sqrt());
        want[i] = a * factor;
        want[plane + i] = b * factor;
    }
    let max = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let scale = want.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    assert!(scale > 0.1, "degenerate test: outputs are all ~0");
    // 1e-3 absolute, or float32 round-off relative to the outputs' size when a chroma
    // gain makes them large.
    let tolerance = 1e-3f32.max(2e-5 * scale);
    assert!(
        max <= tolerance,
        "max |Δab| = {max} > {tolerance} (outputs up to {scale})"
    );
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
fn cosine_schedule_anneals_from_base_to_floor() {
    use super::trainer::LrSchedule;
    let base = 1e-3;
    assert_eq!(LrSchedule::Constant.at(base, 0.7), base);
    assert!((LrSchedule::Cosine.at(base, 0.0) - base).abs() < 1e-15);
    assert!((LrSchedule::Cosine.at(base, 1.0) - 0.05 * base).abs() < 1e-15);
    // Halfway down the cosine: the mean of base and floor.
    assert!((LrSchedule::Cosine.at(base, 0.5) - 0.525 * base).abs() < 1e-12);
    let mut last = f64::INFINITY;
    for i in 0..=100 {
        let lr = LrSchedule::Cosine.at(base, i as f64 / 100.0);
        assert!(lr <= last, "the schedule never rises");
        last = lr;
    }
}

#[test]
fn export_parity_chroma_curve() {
    let curve = export::ChromaCurve {
        gain: 1.6,
        knee: 8.0,
    };
    assert!((curve.factor(0.0) - 1.0).abs() < 1e-6);
    assert!((curve.factor(8.0) - 1.3).abs() < 1e-6);
    parity_with_curve(net::EncoderKind::Eccv16, eccv(), vec![16, 8], 2, curve);
}

/// A small network with the classification head, its decoder initialised from the
/// generator (hold [`seeded_rng`] around it).
fn small_class_network() -> net::Network {
    let config = net::DecoderConfig {
        widths: vec![32, 16],
        output_stride: 2,
        global_context: true,
        classes: super::classes::bin_centres().len() as i64,
        class_stride: 4,
    };
    net::Network::new(
        net::EncoderKind::Eccv16,
        Some(&eccv()),
        config,
        &net::EncoderTuning::Frozen,
        tch::Device::Cpu,
    )
    .unwrap()
}

/// A classification model file given to `--init-from-model` restores the trunk and the class
/// head (its kept classes back in their grid places, the dropped ones far below), and leaves
/// the regression layers after the head's tap as they were.
#[test]
fn init_from_classification_model_restores_trunk_and_head() {
    let _rng = seeded_rng(11);
    let trained = small_class_network();
    let q = super::classes::bin_centres().len();
    if let Some(net::Op::Conv { bias, .. }) = &trained.class_head {
        tch::no_grad(|| {
            let _ = bias
                .shallow_clone()
                .copy_(&Tensor::randn([q as i64], (Kind::Float, tch::Device::Cpu)));
        });
    }
    let prior: Vec<f32> = (0..q)
        .map(|i| if i % 4 == 0 { 0.0 } else { 0.01 })
        .collect();
    let decoding = export::ClassDecoding::new(&vec![1.0; q], &prior, 1.0, 1.5);
    let bytes = export::to_onnx(
        &trained,
        export::ChromaCurve::IDENTITY,
        Some(&decoding),
        &Default::default(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vivid.onnx");
    std::fs::write(&path, &bytes).unwrap();

    let fresh = small_class_network();
    let tail_before: Vec<Tensor> = fresh.all_named()
        [fresh.encoder_named().len() + fresh.decoder_named_until_tap().len()..]
        .iter()
        .filter(|(name, _)| !name.starts_with("dec.classes."))
        .map(|(_, t)| t.copy())
        .collect();
    assert!(
        !tail_before.is_empty(),
        "the test network has no layers after the tap"
    );
    let restored = super::onnx_init::load_from_model(&fresh, &path).unwrap();
    assert_eq!(restored, super::onnx_init::Restored::Classification);

    let mut trunk = trained.encoder_named();
    trunk.extend(trained.decoder_named_until_tap());
    let mut fresh_trunk = fresh.encoder_named();
    fresh_trunk.extend(fresh.decoder_named_until_tap());
    for ((name, want), (_, got)) in trunk.iter().zip(&fresh_trunk) {
        let diff = f64::try_from((*want - *got).abs().max()).unwrap();
        assert!(diff <= 1e-6, "{name} differs by {diff}");
    }
    let (
        Some(net::Op::Conv {
            weight: tw,
            bias: tb,
            ..
        }),
        Some(net::Op::Conv {
            weight: fw,
            bias: fb,
            ..
        }),
    ) = (&trained.class_head, &fresh.class_head)
    else {
        panic!("both networks have a class head");
    };
    let lowest_kept = decoding
        .kept
        .iter()
        .map(|&k| tb.double_value(&[k as i64]))
        .fold(f64::INFINITY, f64::min);
    for k in 0..q as i64 {
        if decoding.kept.contains(&(k as usize)) {
            let diff = f64::try_from((tw.get(k) - fw.get(k)).abs().max()).unwrap();
            assert!(diff <= 1e-6, "class {k}: weights differ by {diff}");
            assert!(
                (tb.double_value(&[k]) - fb.double_value(&[k])).abs() <= 1e-6,
                "class {k}: bias"
            );
        } else {
            assert!(
                fb.double_value(&[k]) < lowest_kept - 10.0,
                "dropped class {k} is not far below"
            );
        }
    }
    let tail_after: Vec<&Tensor> = fresh.all_named()
        [fresh.encoder_named().len() + fresh.decoder_named_until_tap().len()..]
        .iter()
        .filter(|(name, _)| !name.starts_with("dec.classes."))
        .map(|(_, t)| *t)
        .collect();
    for (before, after) in tail_before.iter().zip(tail_after) {
        assert!(
            before.equal(after),
            "a regression layer after the tap changed"
        );
    }
}

/// A network with the classification head, exported with a prior correction, run by tract
/// at two temperatures fed through the `temperature` input: the trainer's own annealed mean
/// of the same logits, corrected the same way, within 1e-3.
#[test]
fn export_parity_classification_head() {
    use super::classes;
    let centres = classes::centres_tensor(tch::Device::Cpu);
    let q = centres.size()[0];
    let _rng = seeded_rng(5);
    let network = small_class_network();
    let (h, w) = (48i64, 64i64);
    let l = Tensor::rand([1, 1, h, w], (Kind::Float, tch::Device::Cpu)) * 100.0;
    network.standardise_features(&l);
    // Sharper logits than a fresh head's, so the temperature matters.
    if let Some(net::Op::Conv { weight, .. }) = &network.class_head {
        tch::no_grad(|| {
            let _ = weight.shallow_clone().g_mul_scalar_(40.0);
        });
    }
    let (_, logits) = tch::no_grad(|| network.forward_heads(&l));
    let logits = logits.unwrap();
    assert_eq!(logits.size(), [1, q, h / 4, w / 4]);
    let rebalance: Vec<f32> = (0..q).map(|i| 0.5 + (i % 7) as f32 * 0.3).collect();
    // Every third class unseen in "training": the export leaves it out.
    let prior: Vec<f32> = (0..q)
        .map(|i| if i % 3 == 0 { 0.0 } else { 0.01 })
        .collect();
    let decoding = export::ClassDecoding::new(&rebalance, &prior, 0.7, 2.0);
    assert_eq!(decoding.kept.len(), (q - (q + 2) / 3) as usize);
    let bias = Tensor::from_slice(&decoding.bias);
    let kept = Tensor::from_slice(&decoding.kept.iter().map(|&k| k as i64).collect::<Vec<_>>());
    let (logits, centres) = (
        logits.index_select(1, &kept),
        centres.index_select(0, &kept),
    );
    let bytes = export::to_onnx(
        &network,
        export::ChromaCurve::IDENTITY,
        Some(&decoding),
        &Default::default(),
    );
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .unwrap()
        .with_input_fact(0, f32::fact([1, 1, h as usize, w as usize]).into())
        .unwrap()
        .with_input_fact(1, f32::fact([1]).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input: Vec<f32> = Vec::try_from(&l.flatten(0, -1)).unwrap();
    let mut outputs = Vec::new();
    for temperature in [1.0f32, 0.4] {
        let want = classes::annealed_mean(&logits, &centres, Some(&bias), temperature as f64)
            * net::AB_SCALE;
        let want: Vec<f32> = Vec::try_from(&want.flatten(0, -1)).unwrap();
        let l_in = tract_onnx::prelude::Tensor::from_shape(&[1, 1, h as usize, w as usize], &input)
            .unwrap();
        let out = model
            .run(tvec!(
                l_in.into_tvalue(),
                tensor1(&[temperature]).into_tvalue()
            ))
            .unwrap();
        let got: Vec<f32> = out[0]
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec();
        assert_eq!(got.len(), want.len());
        let max = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        // The logits are sharpened 40x, so the float32 round-off of the encoder and
        // decoder (about 1e-5 relative) reaches the softmax 40x larger: 0.02 a*b* units,
        // a fiftieth of a just-noticeable difference.
        assert!(max <= 0.02, "T = {temperature}: max |Δab| = {max}");
        outputs.push(got);
    }
    let moved = outputs[0]
        .iter()
        .zip(&outputs[1])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(moved > 1.0, "the temperature changed nothing (max {moved})");
}

/// `--fine-tune-from conv3_1`: the optimiser gets conv3_1 and the layers after it, none
/// before; a backward pass reaches conv3_1's weights and the bfloat16 frozen part stays
/// frozen; an unknown layer name is refused with the encoder's layers listed.
#[test]
fn late_fine_tuning_trains_only_the_named_layer_and_after() {
    let _rng = seeded_rng(5);
    let config = net::DecoderConfig {
        widths: vec![32, 16],
        output_stride: 2,
        global_context: true,
        classes: 0,
        class_stride: 0,
    };
    let tuning = net::EncoderTuning::From("conv3_1".into());
    let mut network = net::Network::new(
        net::EncoderKind::Eccv16,
        Some(&eccv()),
        config.clone(),
        &tuning,
        tch::Device::Cpu,
    )
    .unwrap();
    network.encoder_to_bf16();
    let trained: Vec<String> = network
        .trainable_mut()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("enc."))
        .collect();
    assert_eq!(
        trained,
        [
            "enc.conv3_1.weight",
            "enc.conv3_1.bias",
            "enc.conv3_2.weight",
            "enc.conv3_2.bias",
            "enc.conv3_3.weight",
            "enc.conv3_3.bias"
        ]
    );
    let l = Tensor::rand([2, 1, 32, 32], (Kind::Float, tch::Device::Cpu)) * 100.0;
    network.forward(&l).square().mean(Kind::Float).backward();
    let grad_of = |name: &str| {
        network
            .all_named()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.grad())
            .unwrap()
    };
    assert!(
        grad_of("enc.conv3_1.weight")
            .abs()
            .sum(Kind::Float)
            .double_value(&[])
            > 0.0
    );
    assert!(!grad_of("enc.conv2_2.weight").defined());
    assert_eq!(
        network.encoder_named()[1].1.kind(),
        Kind::BFloat16,
        "the frozen layers run in bfloat16"
    );

    let unknown = net::EncoderTuning::From("conv9_9".into());
    let error = net::Network::new(
        net::EncoderKind::Eccv16,
        Some(&eccv()),
        config,
        &unknown,
        tch::Device::Cpu,
    )
    .err()
    .expect("an unknown layer is refused")
    .to_string();
    assert!(
        error.contains("conv9_9") && error.contains("conv3_1"),
        "{error}"
    );
}
