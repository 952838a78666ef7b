//! An exact rewrite, used at ONNX export: a 4x4, stride-2, padding-1 transposed
//! convolution (the decoder's upsampling layer) equals a 3x3, padding-1 convolution to
//! 4x the output channels followed by `DepthToSpace(blocksize 2)`.
//!
//! Why: tract runs a 3x3 convolution as one large matrix product (im2col + its tuned
//! kernels), but has no such fast path for `ConvTranspose`; measured in PERF_NOTES.md.
//!
//! Derivation (PyTorch/ONNX semantics, weight `W[c][o][kh][kw]`, IOHW): output row
//! `p = 2m + r` (phase r in {0,1}) receives input row `i` through tap `kh = p + 1 - 2i`.
//! With `i = m + u - 1` for a 3x3 window `u in {0,1,2}` centred on `m`, the tap is
//! `kh = 3 + r - 2u`, used when it lies in 0..=3 (2 of the 3 rows for each phase). The same
//! holds for columns. So the 3x3 kernel of output channel `(r, s, o)` is
//! `K[(r,s,o)][c][u][v] = W[c][o][3+r-2u][3+s-2v]` (0 where the tap is out of range), and
//! `DepthToSpace` in DCR mode (channel index `(2r + s) * out + o`) puts phase (r, s) of
//! channel o at output pixel (2m + r, 2n + s). Only the summation order differs from the
//! transposed convolution, so results agree to float rounding (tests/deconv_rewrite.rs).

use tract_onnx::pb;

use crate::onnx::{Attr, GraphBuilder};

/// Kernel tap of the 4x4 transposed convolution that feeds phase `phase` (0 or 1) from
/// 3x3 window position `window` (0..3), if any.
fn tap(phase: usize, window: usize) -> Option<usize> {
    (3 + phase).checked_sub(2 * window).filter(|&k| k <= 3)
}

/// The 3x3 convolution equivalent to a 4x4 stride-2 padding-1 transposed convolution.
///
/// `weight`: IOHW `[in_channels][out_channels][4][4]` (PyTorch's ConvTranspose2d layout),
/// `bias`: `[out_channels]`. Returns the OIHW weight `[4 * out_channels][in_channels][3][3]`
/// and bias `[4 * out_channels]`, channels ordered for DepthToSpace DCR.
pub fn conv3x3_of_deconv4x4s2(
    weight: &[f32],
    bias: &[f32],
    in_channels: usize,
    out_channels: usize,
) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(
        weight.len(),
        in_channels * out_channels * 16,
        "IOHW 4x4 weight"
    );
    assert_eq!(bias.len(), out_channels, "one bias per output channel");
    let mut kernel = vec![0.0f32; 4 * out_channels * in_channels * 9];
    for r in 0..2 {
        for s in 0..2 {
            for o in 0..out_channels {
                let oc = (2 * r + s) * out_channels + o;
                for c in 0..in_channels {
                    for u in 0..3 {
                        let Some(kh) = tap(r, u) else { continue };
                        for v in 0..3 {
                            let Some(kw) = tap(s, v) else { continue };
                            kernel[((oc * in_channels + c) * 3 + u) * 3 + v] =
                                weight[((c * out_channels + o) * 4 + kh) * 4 + kw];
                        }
                    }
                }
            }
        }
    }
    let bias4 = (0..4).flat_map(|_| bias.iter().copied()).collect();
    (kernel, bias4)
}

/// Emits the rewrite into `g` for input `x`; returns the name of the upsampled output.
/// Arguments as for [`GraphBuilder::conv_transpose`] with kernel 4, stride 2, padding 1.
pub fn emit_upsample2(
    g: &mut GraphBuilder,
    x: &str,
    weight: &[f32],
    bias: &[f32],
    in_channels: usize,
    out_channels: usize,
) -> String {
    let (kernel, bias4) = conv3x3_of_deconv4x4s2(weight, bias, in_channels, out_channels);
    let phases = g.conv(x, &kernel, &bias4, 4 * out_channels, in_channels, 3, 1, 1);
    g.node(
        "DepthToSpace",
        &[&phases],
        &[
            ("blocksize", Attr::Int(2)),
            ("mode", Attr::String("DCR".into())),
        ],
    )
}

/// Rewrites, in place, every `ConvTranspose` node of `model` that is 4x4, stride 2,
/// padding 1 (no groups, dilation or output padding) with constant weight and bias, into
/// the 3x3 convolution + DepthToSpace above. Other nodes are left alone. Returns how
/// many nodes were rewritten.
///
/// For models exported before the export did this itself (and for files made elsewhere
/// with the same layer): `colorize-bench --rewrite-deconv` applies it to a file.
pub fn rewrite_model(model: &mut pb::ModelProto) -> usize {
    let Some(graph) = model.graph.as_mut() else {
        return 0;
    };
    let mut rewritten = 0;
    let mut nodes = Vec::with_capacity(graph.node.len());
    for node in std::mem::take(&mut graph.node) {
        match rewrite_node(graph, &node) {
            Some(replacement) => {
                nodes.extend(replacement);
                rewritten += 1;
            }
            None => nodes.push(node),
        }
    }
    graph.node = nodes;
    if rewritten > 0 {
        // The transposed convolutions' own weights are no longer read by anything.
        let used: std::collections::HashSet<String> = graph
            .node
            .iter()
            .flat_map(|n| n.input.iter().cloned())
            .collect();
        graph.initializer.retain(|t| used.contains(&t.name));
        graph.input.retain(|i| used.contains(&i.name));
    }
    rewritten
}

fn ints(node: &pb::NodeProto, name: &str) -> Option<Vec<i64>> {
    node.attribute
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.ints.clone())
}

fn float_initializer(graph: &pb::GraphProto, name: &str) -> Option<(Vec<i64>, Vec<f32>)> {
    let t = graph.initializer.iter().find(|t| t.name == name)?;
    if t.data_type != pb::tensor_proto::DataType::Float as i32 {
        return None;
    }
    let data = if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        t.raw_data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    Some((t.dims.clone(), data))
}

fn rewrite_node(graph: &mut pb::GraphProto, node: &pb::NodeProto) -> Option<Vec<pb::NodeProto>> {
    if node.op_type != "ConvTranspose"
        || node.output.len() != 1
        || !(2..=3).contains(&node.input.len())
    {
        return None;
    }
    let allowed = ["kernel_shape", "strides", "pads", "dilations", "group"];
    if node
        .attribute
        .iter()
        .any(|a| !allowed.contains(&a.name.as_str()))
    {
        return None; // output_padding, output_shape, auto_pad: not this layer
    }
    let group = node
        .attribute
        .iter()
        .find(|a| a.name == "group")
        .map_or(1, |a| a.i);
    let ok = group == 1
        && ints(node, "kernel_shape").is_none_or(|k| k == [4, 4])
        && ints(node, "strides")? == [2, 2]
        && ints(node, "pads")? == [1, 1, 1, 1]
        && ints(node, "dilations").is_none_or(|d| d == [1, 1]);
    if !ok {
        return None;
    }
    let (dims, weight) = float_initializer(graph, &node.input[1])?;
    if dims.len() != 4 || dims[2..] != [4, 4] {
        return None;
    }
    let (cin, cout) = (dims[0] as usize, dims[1] as usize);
    let bias = match node.input.get(2) {
        Some(name) if !name.is_empty() => float_initializer(graph, name)?.1,
        _ => vec![0.0; cout],
    };
    if bias.len() != cout {
        return None;
    }
    let (kernel, bias4) = conv3x3_of_deconv4x4s2(&weight, &bias, cin, cout);
    let base = if node.name.is_empty() {
        node.output[0].clone()
    } else {
        node.name.clone()
    };
    let kernel_name = format!("{base}/as_conv3x3/weight");
    let bias_name = format!("{base}/as_conv3x3/bias");
    let phases = format!("{base}/as_conv3x3/phases");
    let tensor = |name: &str, dims: Vec<i64>, data: &[f32]| pb::TensorProto {
        name: name.to_string(),
        dims,
        data_type: pb::tensor_proto::DataType::Float as i32,
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    };
    graph.initializer.push(tensor(
        &kernel_name,
        vec![4 * cout as i64, cin as i64, 3, 3],
        &kernel,
    ));
    graph
        .initializer
        .push(tensor(&bias_name, vec![4 * cout as i64], &bias4));
    let attr_ints = |name: &str, v: Vec<i64>| pb::AttributeProto {
        name: name.into(),
        ints: v,
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ..Default::default()
    };
    let conv = pb::NodeProto {
        name: format!("{base}/as_conv3x3"),
        op_type: "Conv".into(),
        input: vec![node.input[0].clone(), kernel_name, bias_name],
        output: vec![phases.clone()],
        attribute: vec![
            attr_ints("kernel_shape", vec![3, 3]),
            attr_ints("strides", vec![1, 1]),
            attr_ints("pads", vec![1, 1, 1, 1]),
        ],
        ..Default::default()
    };
    let d2s = pb::NodeProto {
        name: format!("{base}/depth_to_space"),
        op_type: "DepthToSpace".into(),
        input: vec![phases],
        output: node.output.clone(),
        attribute: vec![
            pb::AttributeProto {
                name: "blocksize".into(),
                i: 2,
                r#type: pb::attribute_proto::AttributeType::Int as i32,
                ..Default::default()
            },
            pb::AttributeProto {
                name: "mode".into(),
                s: b"DCR".to_vec(),
                r#type: pb::attribute_proto::AttributeType::String as i32,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    Some(vec![conv, d2s])
}

#[cfg(test)]
mod tests {
    use super::tap;

    #[test]
    fn each_phase_uses_two_taps_covering_the_kernel() {
        let even: Vec<_> = (0..3).map(|u| tap(0, u)).collect();
        let odd: Vec<_> = (0..3).map(|u| tap(1, u)).collect();
        assert_eq!(even, [Some(3), Some(1), None]);
        assert_eq!(odd, [None, Some(2), Some(0)]);
    }
}
