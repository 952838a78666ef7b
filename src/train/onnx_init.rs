//! Starting a run from the weights inside an exported model (`--init-from-model`): the
//! shipped `general.onnx` carries a trained encoder normalisation and decoder, which a new
//! head (the classification head) can grow from without the original checkpoint.
//!
//! A model with the classification head (`colorize.head` = classification) carries the
//! trunk up to the head's tap, the head itself over the classes the export kept, and the
//! decoding constants, but not the regression layers after the tap: it restores the trunk
//! and the head, and leaves those layers as they are (fresh, or from a regression model
//! named before it), so that a vivid model's training can go on from the shipped file.
//!
//! `export.rs` writes the network op by op, so the weight and bias of every convolution,
//! transposed convolution and global-context branch, and the scale and shift of every
//! per-channel affine, appear in the graph's node order in exactly the order of
//! `Network::all_named`. Scalars (the input and output affines, the chroma gain) are not
//! parameters and are skipped; every other tensor must match the network in count and shape.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use colorize::contract::keys;
use prost::Message;
use tch::Tensor;
use tract_onnx::pb;

use super::net::Network;

/// The parameter tensors of an exported model, in node order, with their shapes.
fn parameters_in_order(model: &pb::ModelProto) -> Result<Vec<(Vec<i64>, Vec<f32>)>> {
    let graph = model.graph.as_ref().context("the model has no graph")?;
    let mut out = Vec::new();
    for node in &graph.node {
        if !matches!(
            node.op_type.as_str(),
            "Conv" | "ConvTranspose" | "Mul" | "Add"
        ) {
            continue;
        }
        for input in node.input.iter().skip(1) {
            let Some(init) = graph.initializer.iter().find(|t| &t.name == input) else {
                continue;
            };
            let values: Vec<f32> = if !init.raw_data.is_empty() {
                init.raw_data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            } else {
                init.float_data.clone()
            };
            if values.len() > 1 {
                out.push((init.dims.clone(), values));
            }
        }
    }
    Ok(out)
}

/// Which parts of the network a model file restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restored {
    /// Encoder and the whole regression decoder; the classification head is untouched.
    Regression,
    /// Encoder, the decoder up to the class head's tap, and the class head.
    Classification,
}

fn copy_into(dst: &Tensor, dims: &[i64], values: &[f32]) {
    let src = Tensor::from_slice(values).view(dims);
    tch::no_grad(|| dst.shallow_clone().copy_(&src.to_device(dst.device())));
}

/// Copies `stored` into `wanted` one by one, checking count and shapes.
fn copy_all(
    path: &Path,
    wanted: &[(String, &Tensor)],
    stored: &[(Vec<i64>, Vec<f32>)],
) -> Result<()> {
    ensure!(
        stored.len() == wanted.len(),
        "{} holds {} parameter tensors, this network has {} (another encoder or decoder shape?)",
        path.display(),
        stored.len(),
        wanted.len()
    );
    for ((name, dst), (dims, values)) in wanted.iter().zip(stored) {
        ensure!(
            dst.size() == *dims,
            "{}: tensor for '{name}' has shape {dims:?}, the network wants {:?}",
            path.display(),
            dst.size()
        );
        copy_into(dst, dims, values);
    }
    Ok(())
}

fn is_classification(model: &pb::ModelProto) -> bool {
    model
        .metadata_props
        .iter()
        .any(|p| p.key == keys::HEAD && p.value == "classification")
}

/// Overwrites the network's tensors from the model file: every tensor but the class head's
/// from a regression model; the trunk and the class head from a classification model.
pub fn load_from_model(net: &Network, path: &Path) -> Result<Restored> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let model = pb::ModelProto::decode(bytes.as_slice())
        .with_context(|| format!("{} is not an ONNX model", path.display()))?;
    let stored = parameters_in_order(&model)?;
    if !is_classification(&model) {
        let wanted: Vec<(String, &Tensor)> = net
            .all_named()
            .into_iter()
            .filter(|(name, _)| !name.starts_with("dec.classes."))
            .collect();
        copy_all(path, &wanted, &stored)?;
        return Ok(Restored::Regression);
    }
    let Some(super::net::Op::Conv { weight, bias, .. }) = &net.class_head else {
        anyhow::bail!(
            "{} has a classification head; this run has none (add --classes)",
            path.display()
        );
    };
    let mut trunk = net.encoder_named();
    trunk.extend(net.decoder_named_until_tap());
    // After the trunk: the head's weight and bias over the kept classes, then the decoding's
    // constants, among them the bin centres as a 1x1 convolution from the kept classes to
    // (a*, b*) (export.rs, emit_class_decoding).
    ensure!(
        stored.len() > trunk.len() + 2,
        "{} holds {} parameter tensors, too few for a classification model with this trunk ({})",
        path.display(),
        stored.len(),
        trunk.len()
    );
    copy_all(path, &trunk, &stored[..trunk.len()])?;
    let (head_w, head_b) = (&stored[trunk.len()], &stored[trunk.len() + 1]);
    let centres = stored[trunk.len() + 2..]
        .iter()
        .find(|(dims, _)| dims.len() == 4 && dims[0] == 2 && dims[1] == head_w.0[0])
        .with_context(|| format!("{}: no bin centres after the class head", path.display()))?;
    let kept = head_w.0[0] as usize;
    let inputs = head_w.0[1] as usize;
    ensure!(
        weight.size()
            == [
                super::classes::bin_centres().len() as i64,
                inputs as i64,
                1,
                1
            ]
            && head_b.1.len() == kept
            && centres.1.len() == 2 * kept,
        "{}: its class head ({kept} classes x {inputs} inputs) does not fit this network's {:?}",
        path.display(),
        weight.size()
    );
    // Each kept class back to its place in the grid; the classes the export dropped (never
    // reached by the training data) get a logit far below every kept one.
    let grid = super::classes::bin_centres();
    let mut full_w = vec![0f32; grid.len() * inputs];
    let lowest = head_b.1.iter().copied().fold(f32::INFINITY, f32::min);
    let mut full_b = vec![lowest - 20.0; grid.len()];
    for k in 0..kept {
        let (a, b) = (centres.1[k], centres.1[kept + k]);
        let q = grid
            .iter()
            .position(|c| (c[0] - a).abs() < 1e-3 && (c[1] - b).abs() < 1e-3)
            .with_context(|| {
                format!(
                    "{}: class centre ({a}, {b}) is not on the bin grid",
                    path.display()
                )
            })?;
        full_w[q * inputs..(q + 1) * inputs]
            .copy_from_slice(&head_w.1[k * inputs..(k + 1) * inputs]);
        full_b[q] = head_b.1[k];
    }
    copy_into(weight, &[grid.len() as i64, inputs as i64, 1, 1], &full_w);
    copy_into(bias, &[grid.len() as i64], &full_b);
    Ok(Restored::Classification)
}
