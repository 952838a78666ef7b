//! Starting a run from the weights inside an exported model (`--init-from-model`): the
//! shipped `general.onnx` carries a trained encoder normalisation and decoder, which a new
//! head (the classification head) can grow from without the original checkpoint.
//!
//! `export.rs` writes the network op by op, so the weight and bias of every convolution,
//! transposed convolution and global-context branch, and the scale and shift of every
//! per-channel affine, appear in the graph's node order in exactly the order of
//! `Network::all_named`. Scalars (the input and output affines, the chroma gain) are not
//! parameters and are skipped; every other tensor must match the network in count and shape.

use std::path::Path;

use anyhow::{ensure, Context, Result};
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

/// Overwrites the network's tensors, except the classification head's, from the model file.
pub fn load_from_model(net: &Network, path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let model = pb::ModelProto::decode(bytes.as_slice())
        .with_context(|| format!("{} is not an ONNX model", path.display()))?;
    let stored = parameters_in_order(&model)?;
    let wanted: Vec<(String, &Tensor)> = net
        .all_named()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("dec.classes."))
        .collect();
    ensure!(
        stored.len() == wanted.len(),
        "{} holds {} parameter tensors, this network has {} (another encoder or decoder shape?)",
        path.display(),
        stored.len(),
        wanted.len()
    );
    for ((name, dst), (dims, values)) in wanted.iter().zip(&stored) {
        ensure!(
            dst.size() == *dims,
            "{}: tensor for '{name}' has shape {dims:?}, the network wants {:?}",
            path.display(),
            dst.size()
        );
        let src = Tensor::from_slice(values).view(dims.as_slice());
        tch::no_grad(|| dst.shallow_clone().copy_(&src.to_device(dst.device())));
    }
    Ok(())
}
