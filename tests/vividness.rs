//! The vividness setting of classification models (annealed-mean decoding with a run-time
//! temperature): the Rust API, the model contract's `temperature` input, and the
//! `colorize` command's `--vividness`, `eval --vividness` and `compare NAME@V`, on a small
//! generated two-class model whose output is a known function of L* and the temperature.

mod common;

use colorize::onnx::test_models;
use colorize::{ErrorKind, Model, Options};

fn two_classes(default_vividness: Option<f32>) -> Model {
    Model::from_bytes(
        &test_models::two_classes(0.1, default_vividness).to_bytes(),
        "two-classes",
    )
    .unwrap()
}

/// a* for a constant L* plane at `vividness`.
fn a_star(model: &Model, vividness: f32, l: f32) -> f32 {
    let (w, h) = (16, 12);
    let mut ab = vec![f32::NAN; 2 * w * h];
    let options = Options {
        vividness,
        ..Default::default()
    };
    colorize::colorize_l(model, &options, &vec![l; w * h], w, h, w, &mut ab, 2 * w).unwrap();
    assert!(ab.iter().all(|v| v.is_finite()));
    // Every pixel alike: a constant plane.
    assert!(ab.chunks(2).all(|p| (p[0] - ab[0]).abs() < 1e-3));
    ab[0]
}

#[test]
fn vividness_is_the_inverse_temperature_of_the_annealed_mean() {
    let model = two_classes(Some(2.0));
    assert_eq!(model.default_vividness(), Some(2.0));
    for (vividness, l) in [(1.0f32, 60.0f32), (2.0, 60.0), (4.0, 55.0), (0.5, 30.0)] {
        let expected = 40.0 * (0.1 * (l - 50.0) * vividness).tanh();
        let got = a_star(&model, vividness, l);
        assert!(
            (got - expected).abs() < 0.05,
            "vividness {vividness}, L* {l}: a* {got}, expected {expected}"
        );
    }
    // 0 is the model's default.
    assert_eq!(a_star(&model, 0.0, 60.0), a_star(&model, 2.0, 60.0));
    // More vivid: a larger chroma for the same image.
    assert!(a_star(&model, 3.0, 58.0) > a_star(&model, 1.0, 58.0) + 5.0);
}

#[test]
fn a_model_without_the_key_defaults_to_one() {
    let model = two_classes(None);
    assert_eq!(model.default_vividness(), Some(1.0));
    assert_eq!(model.temperature_for(0.0).unwrap(), Some(1.0));
    assert_eq!(model.temperature_for(4.0).unwrap(), Some(0.25));
}

#[test]
fn regression_models_refuse_a_vividness_and_accept_zero() {
    let model = Model::from_bytes(&common::linear_model(0.5, -0.25), "linear").unwrap();
    assert_eq!(model.default_vividness(), None);
    assert_eq!(model.temperature_for(0.0).unwrap(), None);
    let (w, h) = (8, 8);
    let mut ab = vec![0.0f32; 2 * w * h];
    let options = Options {
        vividness: 2.0,
        ..Default::default()
    };
    let err = colorize::colorize_l(
        &model,
        &options,
        &vec![50.0; w * h],
        w,
        h,
        w,
        &mut ab,
        2 * w,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("no vividness"), "{err}");
    assert!(ab.iter().all(|v| *v == 0.0), "output written on failure");
}

#[test]
fn out_of_range_vividness_is_refused_before_any_work() {
    for bad in [f32::NAN, -1.0, 0.05, 10.5, f32::INFINITY] {
        let options = Options {
            vividness: bad,
            ..Default::default()
        };
        let err = options.validate().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}");
        assert!(err.to_string().contains("vividness"), "{err}");
    }
    for good in [0.0, 0.1, 1.0, 10.0] {
        Options {
            vividness: good,
            ..Default::default()
        }
        .validate()
        .unwrap();
    }
}

#[test]
fn the_same_plans_serve_every_vividness() {
    // The temperature is an input, not a constant folded into the plan: changing it is a
    // different value fed to the same cached plan, so alternating is exact both ways.
    let model = two_classes(Some(1.0));
    let first = a_star(&model, 1.5, 57.0);
    let _ = a_star(&model, 6.0, 57.0);
    assert_eq!(a_star(&model, 1.5, 57.0), first);
}

#[test]
fn cli_vividness_changes_a_classification_models_colour_and_is_refused_for_regression() {
    let fixture = common::CliFixture::new();
    let model = fixture.path("two.onnx");
    std::fs::write(&model, test_models::two_classes(0.1, Some(1.0)).to_bytes()).unwrap();
    // A grey ramp photo: L* from dark to light.
    let photo = image::GrayImage::from_fn(64, 48, |x, _| image::Luma([(60 + 2 * x) as u8]));
    photo.save(fixture.path("in.png")).unwrap();
    let chroma_at = |vividness: Option<&str>, out: &str| -> f64 {
        let mut args = vec!["--model", model.to_str().unwrap(), "in.png", "-o", out];
        if let Some(v) = vividness {
            args.extend(["--vividness", v]);
        }
        let result = std::process::Command::new(env!("CARGO_BIN_EXE_colorize"))
            .args(&args)
            .current_dir(fixture.dir.path())
            .output()
            .unwrap();
        assert!(result.status.success(), "{}", common::text(&result));
        let img = image::open(fixture.path(out)).unwrap().to_rgb8();
        img.pixels()
            .map(|p| {
                let [r, g, b] = p.0.map(f64::from);
                (r - g).abs() + (g - b).abs()
            })
            .sum::<f64>()
    };
    let default = chroma_at(None, "default.png");
    let vivid = chroma_at(Some("4"), "vivid.png");
    assert!(
        vivid > default * 1.2,
        "vividness 4: {vivid} vs default {default}"
    );

    // The regression test model of the fixture refuses it, with the option named.
    let out = fixture.run(&["in.png", "-o", "x.png", "--vividness", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(
        common::text(&out).contains("--vividness"),
        "{}",
        common::text(&out)
    );
    assert!(!fixture.path("x.png").exists());
    // Out of range, for any model.
    let out = fixture.run(&["in.png", "-o", "x.png", "--vividness", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
}

#[test]
fn eval_scores_one_row_per_vividness_and_compare_takes_name_at_v() {
    let fixture = common::CliFixture::new();
    let model = fixture.path("two.onnx");
    std::fs::write(&model, test_models::two_classes(0.1, Some(1.0)).to_bytes()).unwrap();
    let photos = fixture.path("photos");
    std::fs::create_dir(&photos).unwrap();
    let photo = image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(100 + 3 * x) as u8, (90 + 2 * y) as u8, 80])
    });
    photo.save(photos.join("a.png")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_colorize"))
        .args(["eval", "photos", "--json", "-q", "--vividness", "1,3"])
        .arg("--model")
        .arg(&model)
        .current_dir(fixture.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = report.to_string();
    assert!(
        text.contains("two.onnx @1") && text.contains("two.onnx @3"),
        "{text}"
    );

    let grid = std::process::Command::new(env!("CARGO_BIN_EXE_colorize"))
        .args(["compare", "photos", "-o", "grid.png", "--models"])
        .arg(format!("{0}@1,{0}@3", model.display()))
        .current_dir(fixture.dir.path())
        .output()
        .unwrap();
    assert!(grid.status.success(), "{}", common::text(&grid));
    assert!(fixture.path("grid.png").exists());
}
