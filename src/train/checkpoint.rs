//! Checkpoints: one safetensors file holding the network, the Adam moments and a JSON
//! record (configuration, epoch, history), written to a temp file and renamed, so a
//! checkpoint is either the previous complete one or the new complete one, never half.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::net::Network;
use super::optim::Adam;

pub const FILE_NAME: &str = "checkpoint.safetensors";

/// What must match between a run and its resumption (batch size and learning rate may change).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelConfig {
    pub encoder: String,
    pub fine_tune: bool,
    /// The first encoder convolution trained when only the late layers are (`fine_tune`
    /// then says nothing).
    #[serde(default)]
    pub fine_tune_from: Option<String>,
    pub widths: Vec<i64>,
    pub output_stride: i64,
    pub global_context: bool,
    pub loss: String,
    pub huber_delta: f64,
    pub crop: u32,
    /// Colour rebalancing λ (0 = off).
    #[serde(default)]
    pub rebalance: f64,
    /// Colour classes of the classification head (0 = regression only).
    #[serde(default)]
    pub classes: i64,
    /// Weight of the cross-entropy term.
    #[serde(default)]
    pub class_weight: f64,
    /// Class rebalancing λ of the cross-entropy.
    #[serde(default)]
    pub class_rebalance: f64,
    /// Stride of the class logits.
    #[serde(default)]
    pub class_stride: i64,
}

/// One row of the training history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub val_loss: f64,
    pub val_l2: f64,
    pub images: usize,
    pub seconds: f64,
    pub lr: f64,
    pub batch_size: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub config: ModelConfig,
    /// Epochs fully done.
    pub epoch: usize,
    /// Batches done in the current (unfinished) epoch; 0 at an epoch boundary.
    pub batch_in_epoch: usize,
    pub seed: u64,
    pub dataset: String,
    pub adam_step: i64,
    pub history: Vec<EpochRecord>,
    /// Rebalancing weights per a*b* bin, fixed at the start of the run.
    #[serde(default)]
    pub rebalance_weights: Vec<f32>,
    /// Classification head: rebalancing weight and smoothed training prior per colour class,
    /// fixed at the start of the run (the export's prior correction reads them).
    #[serde(default)]
    pub class_weights: Vec<f32>,
    #[serde(default)]
    pub class_prior: Vec<f32>,
}

pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Writes the checkpoint atomically.
pub fn save(dir: &Path, net: &Network, adam: &Adam, state: &State) -> Result<()> {
    let json = serde_json::to_vec(state)?;
    let meta = Tensor::from_slice(&json);
    let mut tensors: Vec<(String, Tensor)> = vec![("meta".into(), meta)];
    for (name, t) in net.all_named() {
        tensors.push((
            format!("param.{name}"),
            t.detach().to_device(tch::Device::Cpu),
        ));
    }
    for (name, m, v) in &adam.moments {
        tensors.push((format!("adam_m.{name}"), m.to_device(tch::Device::Cpu)));
        tensors.push((format!("adam_v.{name}"), v.to_device(tch::Device::Cpu)));
    }
    let final_path = path_in(dir);
    let tmp = dir.join(format!(".{FILE_NAME}.tmp-{}", std::process::id()));
    let written = Tensor::write_safetensors(&tensors, &tmp)
        .with_context(|| format!("cannot write checkpoint in {}", dir.display()))
        .and_then(|_| {
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &final_path)
                .with_context(|| format!("cannot replace {}", final_path.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A loaded checkpoint: its record and its tensors by name.
pub struct Loaded {
    pub state: State,
    pub tensors: Vec<(String, Tensor)>,
}

pub fn load(dir: &Path) -> Result<Option<Loaded>> {
    let path = path_in(dir);
    if !path.exists() {
        return Ok(None);
    }
    let tensors = Tensor::read_safetensors(&path)
        .with_context(|| format!("checkpoint {} is unreadable", path.display()))?;
    let meta = tensors
        .iter()
        .find(|(n, _)| n == "meta")
        .map(|(_, t)| t)
        .context("checkpoint has no record")?;
    let bytes = Vec::<u8>::try_from(&meta.to_kind(Kind::Uint8))?;
    let state: State = serde_json::from_slice(&bytes).context("checkpoint record is corrupt")?;
    Ok(Some(Loaded { state, tensors }))
}

impl Loaded {
    /// Network tensors (without the `param.` prefix).
    pub fn params(&self) -> Vec<(String, Tensor)> {
        self.prefixed("param.")
    }

    pub fn restore_adam(&self, adam: &mut Adam) -> Result<()> {
        adam.step = self.state.adam_step;
        let ms = self.prefixed("adam_m.");
        let vs = self.prefixed("adam_v.");
        for (name, m, v) in adam.moments.iter_mut() {
            let (Some(sm), Some(sv)) = (
                ms.iter().find(|(n, _)| n == name),
                vs.iter().find(|(n, _)| n == name),
            ) else {
                bail!("checkpoint lacks optimiser state for '{name}'");
            };
            tch::no_grad(|| {
                m.copy_(&sm.1.to_device(m.device()));
                v.copy_(&sv.1.to_device(v.device()));
            });
        }
        Ok(())
    }

    fn prefixed(&self, prefix: &str) -> Vec<(String, Tensor)> {
        self.tensors
            .iter()
            .filter_map(|(n, t)| {
                n.strip_prefix(prefix)
                    .map(|s| (s.to_string(), t.shallow_clone()))
            })
            .collect()
    }
}
