//! The export-time rewrite ConvTranspose(4x4, stride 2, pad 1) -> Conv 3x3 to 4x channels +
//! DepthToSpace must be exact: both graphs run in tract and are compared with each other
//! and with a direct loop implementation of the transposed convolution, to 1e-4.

use colorize::deconv_rewrite;
use colorize::onnx::{Dim, GraphBuilder};
use tract_onnx::prelude::*;

/// Deterministic values in -scale..scale.
fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// Transposed convolution by its definition: every input pixel scatters its 4x4 stamp.
fn reference(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    cin: usize,
    cout: usize,
    h: usize,
    wd: usize,
) -> Vec<f32> {
    let (oh, ow) = (2 * h, 2 * wd);
    let mut y = vec![0.0f32; cout * oh * ow];
    for o in 0..cout {
        y[o * oh * ow..(o + 1) * oh * ow].fill(b[o]);
    }
    for c in 0..cin {
        for i in 0..h {
            for j in 0..wd {
                let v = x[(c * h + i) * wd + j];
                for o in 0..cout {
                    for kh in 0..4 {
                        let p = (2 * i + kh) as isize - 1;
                        if p < 0 || p >= oh as isize {
                            continue;
                        }
                        for kw in 0..4 {
                            let q = (2 * j + kw) as isize - 1;
                            if q < 0 || q >= ow as isize {
                                continue;
                            }
                            y[(o * oh + p as usize) * ow + q as usize] +=
                                v * w[((c * cout + o) * 4 + kh) * 4 + kw];
                        }
                    }
                }
            }
        }
    }
    y
}

fn graph(rewritten: bool, w: &[f32], b: &[f32], cin: usize, cout: usize) -> Vec<u8> {
    let mut g = GraphBuilder::new("deconv");
    let dims = [
        Dim::Fixed(1),
        Dim::Fixed(cin as i64),
        Dim::Symbolic("H"),
        Dim::Symbolic("W"),
    ];
    g.input("x", &dims);
    let y = if rewritten {
        deconv_rewrite::emit_upsample2(&mut g, "x", w, b, cin, cout)
    } else {
        g.conv_transpose("x", w, b, cin, cout, 4, 2, 1)
    };
    g.node_named("Identity", &[&y], &["y"], &[]);
    g.output(
        "y",
        &[
            Dim::Fixed(1),
            Dim::Fixed(cout as i64),
            Dim::Symbolic("H2"),
            Dim::Symbolic("W2"),
        ],
    );
    g.to_bytes()
}

fn run(bytes: &[u8], x: &[f32], cin: usize, h: usize, w: usize) -> Vec<f32> {
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &*bytes)
        .unwrap()
        .with_input_fact(0, f32::fact([1, cin, h, w]).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input = Tensor::from_shape(&[1, cin, h, w], x).unwrap();
    let out = plan.run(tvec!(input.into_tvalue())).unwrap();
    out[0]
        .try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn rewrite_equals_transposed_convolution() {
    // The decoder's real widths (256 -> 128, 128 -> 64) and a small odd case; odd and
    // non-square spatial sizes exercise every border.
    for (cin, cout, h, w, seed) in [
        (3, 2, 1, 1, 1),
        (5, 3, 4, 7, 2),
        (256, 128, 6, 5, 3),
        (128, 64, 9, 8, 4),
    ] {
        let weight = values(cin * cout * 16, seed, (1.0 / (cin * 4) as f32).sqrt());
        let bias = values(cout, seed + 100, 0.5);
        let x = values(cin * h * w, seed + 200, 2.0);
        let expected = reference(&x, &weight, &bias, cin, cout, h, w);
        let original = run(&graph(false, &weight, &bias, cin, cout), &x, cin, h, w);
        let rewritten = run(&graph(true, &weight, &bias, cin, cout), &x, cin, h, w);
        let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            scale > 0.1,
            "test values too small to mean anything: {scale}"
        );
        let d_rewrite = max_diff(&rewritten, &expected);
        let d_original = max_diff(&original, &expected);
        println!("{cin}->{cout} {h}x{w}: |rewrite - loops| {d_rewrite:.2e}, |ConvTranspose - loops| {d_original:.2e}, max |y| {scale:.2}");
        assert!(
            d_rewrite <= 1e-4,
            "{cin}->{cout} {h}x{w}: rewrite differs by {d_rewrite}"
        );
        assert!(
            d_original <= 1e-4,
            "{cin}->{cout} {h}x{w}: tract's ConvTranspose differs by {d_original}"
        );
        assert!(max_diff(&rewritten, &original) <= 1e-4);
    }
}

#[test]
fn a_wrong_channel_order_is_detected() {
    // The test must be able to fail: swapping two phases of the rewritten kernel breaks it.
    let (cin, cout, h, w) = (4, 2, 3, 3);
    let weight = values(cin * cout * 16, 9, 0.5);
    let bias = vec![0.0; cout];
    let x = values(cin * h * w, 10, 1.0);
    let (mut kernel, bias4) = deconv_rewrite::conv3x3_of_deconv4x4s2(&weight, &bias, cin, cout);
    let per_phase = cout * cin * 9;
    let (first, rest) = kernel.split_at_mut(per_phase);
    first.swap_with_slice(&mut rest[..per_phase]);
    let mut g = GraphBuilder::new("broken");
    g.input(
        "x",
        &[
            Dim::Fixed(1),
            Dim::Fixed(cin as i64),
            Dim::Symbolic("H"),
            Dim::Symbolic("W"),
        ],
    );
    let phases = g.conv("x", &kernel, &bias4, 4 * cout, cin, 3, 1, 1);
    let y = g.node(
        "DepthToSpace",
        &[&phases],
        &[
            ("blocksize", colorize::onnx::Attr::Int(2)),
            ("mode", colorize::onnx::Attr::String("DCR".into())),
        ],
    );
    g.node_named("Identity", &[&y], &["y"], &[]);
    g.output(
        "y",
        &[
            Dim::Fixed(1),
            Dim::Fixed(cout as i64),
            Dim::Symbolic("H2"),
            Dim::Symbolic("W2"),
        ],
    );
    let broken = run(&g.to_bytes(), &x, cin, h, w);
    let expected = reference(&x, &weight, &bias, cin, cout, h, w);
    assert!(max_diff(&broken, &expected) > 1e-2);
}

#[test]
fn model_level_rewrite_replaces_only_matching_nodes_and_keeps_results() {
    let (cin, cout, h, w) = (6, 4, 5, 6);
    let weight = values(cin * cout * 16, 21, 0.4);
    let bias = values(cout, 22, 0.3);
    let x = values(cin * h * w, 23, 1.5);
    let original_bytes = graph(false, &weight, &bias, cin, cout);
    let mut proto = tract_onnx::onnx()
        .proto_model_for_read(&mut &*original_bytes)
        .unwrap();
    assert_eq!(deconv_rewrite::rewrite_model(&mut proto), 1);
    let ops: Vec<String> = proto
        .graph
        .as_ref()
        .unwrap()
        .node
        .iter()
        .map(|n| n.op_type.clone())
        .collect();
    assert_eq!(ops, ["Conv", "DepthToSpace", "Identity"]);
    // A second pass finds nothing left to do.
    assert_eq!(deconv_rewrite::rewrite_model(&mut proto), 0);
    use prost::Message;
    let rewritten = run(&proto.encode_to_vec(), &x, cin, h, w);
    let expected = reference(&x, &weight, &bias, cin, cout, h, w);
    assert!(max_diff(&rewritten, &expected) <= 1e-4);
    // A stride-1 transposed convolution is not this layer and stays.
    let mut g = GraphBuilder::new("other");
    g.input(
        "x",
        &[
            Dim::Fixed(1),
            Dim::Fixed(cin as i64),
            Dim::Symbolic("H"),
            Dim::Symbolic("W"),
        ],
    );
    let y = g.conv_transpose("x", &weight, &bias, cin, cout, 4, 1, 1);
    g.node_named("Identity", &[&y], &["y"], &[]);
    g.output(
        "y",
        &[
            Dim::Fixed(1),
            Dim::Fixed(cout as i64),
            Dim::Symbolic("H2"),
            Dim::Symbolic("W2"),
        ],
    );
    let mut other = g.to_model();
    assert_eq!(deconv_rewrite::rewrite_model(&mut other), 0);
}
