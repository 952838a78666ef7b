//! The classification head's colour classes (Zhang, Isola & Efros, ECCV 2016): a*b* quantised
//! on a 10-unit grid; soft-encoded targets (Gaussian over the nearest bins); class
//! rebalancing from the training set's smoothed a*b* prior; and the multinomial
//! cross-entropy between them.
//!
//! The head trains on the whole grid over [-110, 110]²; the export keeps the bins the
//! training data reaches (smoothed prior above [`PRIOR_FLOOR`]), as Zhang et al.'s 313 are
//! the bins their ImageNet data occupies: a bin the data never reaches is never a target, its
//! logit stays far below the others', and dropping it changes no output measurably.
//!
//! Everything here works in the trainer's a*b* units (a*b* / `AB_SCALE`).

use tch::{Kind, Tensor};

use super::net::AB_SCALE;

/// Grid spacing of the bins, in a*b* units.
pub const BIN_SPACING: f64 = 10.0;
/// Largest |a*| or |b*| of a bin centre.
const GRID_EXTENT: i32 = 110;
/// Neighbours each target pixel is spread over, and the Gaussian's sigma (a*b* units).
pub const SOFT_NEIGHBOURS: i64 = 5;
pub const SOFT_SIGMA: f64 = 5.0;

/// Bins whose smoothed training prior is at or below this are left out of an export.
pub const PRIOR_FLOOR: f32 = 1e-7;

/// The centres (a*, b*) of the grid's bins, a* major: 23 x 23 = 529. Deterministic, so
/// checkpoints and exports agree on the bin order without storing it.
pub fn bin_centres() -> Vec<[f32; 2]> {
    let steps: Vec<f32> = (-GRID_EXTENT..=GRID_EXTENT)
        .step_by(BIN_SPACING as usize)
        .map(|v| v as f32)
        .collect();
    steps
        .iter()
        .flat_map(|&a| steps.iter().map(move |&b| [a, b]))
        .collect()
}

/// The bin centres as a [Q, 2] tensor in trainer units.
pub fn centres_tensor(device: tch::Device) -> Tensor {
    let flat: Vec<f32> = bin_centres()
        .iter()
        .flat_map(|c| [c[0] / AB_SCALE as f32, c[1] / AB_SCALE as f32])
        .collect();
    let q = flat.len() as i64 / 2;
    Tensor::from_slice(&flat).view([q, 2]).to_device(device)
}

/// Targets (N, 2, H, W) flattened to (P, 2) pixels.
fn pixels(ab: &Tensor) -> Tensor {
    ab.permute([0, 2, 3, 1]).reshape([-1, 2])
}

/// Squared distances (P, Q) between pixels (P, 2) and centres (Q, 2).
fn squared_distances(pixels: &Tensor, centres: &Tensor) -> Tensor {
    let p2 = pixels
        .square()
        .sum_dim_intlist([1i64].as_slice(), true, Kind::Float);
    let c2 = centres
        .square()
        .sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
    (p2 - pixels.matmul(&centres.transpose(0, 1)) * 2.0 + c2.unsqueeze(0)).clamp_min(0.0)
}

/// Soft encoding of each target pixel: the indices (P, k) of its k nearest bins, nearest
/// first, and their Gaussian weights (P, k) summing to 1.
pub fn soft_encode(ab: &Tensor, centres: &Tensor) -> (Tensor, Tensor) {
    let d2 = squared_distances(&pixels(ab), centres);
    let (nearest_d2, indices) = d2.topk(SOFT_NEIGHBOURS, 1, false, true);
    let sigma = SOFT_SIGMA / AB_SCALE;
    let weights = (nearest_d2 / (-2.0 * sigma * sigma)).softmax(1, Kind::Float);
    (indices, weights)
}

/// Class rebalancing: w(q) = ((1 - λ) p~(q) + λ / Q)^-1 normalised so that E_p~[w] = 1,
/// with p~ the training targets' bin frequencies smoothed by a Gaussian (sigma 5).
/// Returns (w, p~), each [Q].
pub fn rebalancing_weights(sample_ab: &Tensor, centres: &Tensor, lambda: f64) -> (Tensor, Tensor) {
    let q = centres.size()[0];
    let all = pixels(sample_ab);
    let mut counts = Tensor::zeros([q], (Kind::Float, centres.device()));
    // In chunks: the distance matrix of a whole sample would take gigabytes.
    for chunk in all.split(1 << 16, 0) {
        let nearest = squared_distances(&chunk, centres).argmin(1, false);
        counts += nearest.bincount(None::<Tensor>, q).to_kind(Kind::Float);
    }
    let empirical = &counts / counts.sum(Kind::Float);
    let sigma = SOFT_SIGMA / AB_SCALE;
    let kernel = (squared_distances(centres, centres) / (-2.0 * sigma * sigma)).exp();
    let smoothed = kernel.matmul(&empirical);
    let prior = &smoothed / smoothed.sum(Kind::Float);
    let w = (&prior * (1.0 - lambda) + lambda / q as f64).reciprocal();
    let expected = (&w * &prior).sum(Kind::Float);
    (w / expected, prior)
}

/// The soft encoding of every a*b* on a 1-unit grid, computed once: encoding a batch is
/// then a table lookup (nearest grid point, at most 0.5 units from the pixel's own a*b*,
/// far below the kernel's sigma of 5), where the exact search over all bins for every
/// pixel took most of a training step.
pub struct SoftEncoder {
    /// Nearest bins (CELLS, k), nearest first, and their weights (CELLS, k).
    indices: Tensor,
    weights: Tensor,
}

const TABLE_SIDE: i64 = 2 * GRID_EXTENT as i64 + 1;

impl SoftEncoder {
    pub fn new(centres: &Tensor) -> Self {
        let device = centres.device();
        let steps = Tensor::arange(TABLE_SIDE, (Kind::Float, device)) - GRID_EXTENT as f64;
        let a = steps
            .view([TABLE_SIDE, 1])
            .expand([TABLE_SIDE, TABLE_SIDE], false);
        let b = steps
            .view([1, TABLE_SIDE])
            .expand([TABLE_SIDE, TABLE_SIDE], false);
        let grid = Tensor::stack(&[a, b], 0).unsqueeze(0) / AB_SCALE;
        let (indices, weights) = soft_encode(&grid, centres);
        SoftEncoder { indices, weights }
    }

    /// Indices (N, k, H, W) of each pixel's nearest bins and their weights (N, k, H, W).
    pub fn encode(&self, ab: &Tensor) -> (Tensor, Tensor) {
        let cell = |channel: i64| {
            (ab.select(1, channel) * AB_SCALE + GRID_EXTENT as f64)
                .round()
                .clamp(0.0, (TABLE_SIDE - 1) as f64)
                .to_kind(Kind::Int64)
        };
        let index = cell(0) * TABLE_SIDE + cell(1);
        let shape = index.size();
        let flat = index.flatten(0, -1);
        let k = self.indices.size()[1];
        let gather = |table: &Tensor| {
            table
                .index_select(0, &flat)
                .view([shape[0], shape[1], shape[2], k])
                .permute([0, 3, 1, 2])
        };
        (gather(&self.indices), gather(&self.weights))
    }
}

/// Multinomial cross-entropy between logits (N, Q, H, W) and the soft-encoded targets
/// (N, 2, H, W), each pixel weighted by the rebalancing weight of its nearest bin. Written
/// as logsumexp(z) - Σ soft·z on the logits' own layout (no per-pixel copy of Q values).
pub fn cross_entropy(
    logits: &Tensor,
    target_ab: &Tensor,
    encoder: &SoftEncoder,
    weights: &Tensor,
) -> Tensor {
    let (indices, soft) = tch::no_grad(|| encoder.encode(target_ab));
    let picked = logits.gather(1, &indices, false);
    let per_pixel = logits.logsumexp([1i64].as_slice(), false)
        - (picked * soft).sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
    let pixel_weight = weights
        .index_select(0, &indices.select(1, 0).flatten(0, -1))
        .view(per_pixel.size().as_slice());
    (per_pixel * pixel_weight).mean(Kind::Float)
}

/// The annealed mean (N, 2, H, W): softmax(logits / T + bias) times the bin centres, the
/// decoding the exported model runs (`bias` is the export's prior correction, per bin).
pub fn annealed_mean(
    logits: &Tensor,
    centres: &Tensor,
    bias: Option<&Tensor>,
    temperature: f64,
) -> Tensor {
    let q = logits.size()[1];
    let z = logits / temperature;
    let z = match bias {
        Some(b) => z + b.view([1, q, 1, 1]),
        None => z,
    };
    let p = z.softmax(1, Kind::Float);
    // (N, Q, H, W) x (Q, 2) -> (N, 2, H, W)
    Tensor::einsum("nqhw,qc->nchw", &[p, centres.shallow_clone()], None::<i64>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_covers_every_a_b_at_ten_unit_steps() {
        let centres = bin_centres();
        assert_eq!(centres.len(), 23 * 23);
        assert!(centres.contains(&[0.0, 0.0]));
        assert!(centres.contains(&[70.0, -100.0]));
        assert_eq!(centres[0], [-110.0, -110.0]);
        assert_eq!(centres[1], [-110.0, -100.0]);
    }

    #[test]
    fn soft_encoding_puts_most_weight_on_the_nearest_bin() {
        let centres = centres_tensor(tch::Device::Cpu);
        // One pixel exactly on the bin (20, -30), one between bins.
        let ab = Tensor::from_slice(&[0.2f32, 0.25, -0.3, -0.35]).view([1, 2, 1, 2]);
        let (indices, weights) = soft_encode(&ab, &centres);
        let c: Vec<f32> = Vec::try_from(
            centres
                .index_select(0, &indices.select(1, 0))
                .flatten(0, -1),
        )
        .unwrap();
        assert!((c[0] - 0.2).abs() < 1e-6 && (c[1] + 0.3).abs() < 1e-6);
        let w: Vec<f32> = Vec::try_from(weights.flatten(0, -1)).unwrap();
        assert!((w[..5].iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(w[0] > 0.5, "on-bin pixel's nearest weight {}", w[0]);
    }

    #[test]
    fn the_lookup_table_matches_the_exact_encoding() {
        let centres = centres_tensor(tch::Device::Cpu);
        let encoder = SoftEncoder::new(&centres);
        let _rng = super::super::tests::seeded_rng(7);
        let ab = (Tensor::rand([2, 2, 8, 8], (Kind::Float, tch::Device::Cpu)) - 0.5) * 1.6;
        let (exact_i, exact_w) = soft_encode(&ab, &centres);
        let (table_i, table_w) = encoder.encode(&ab);
        // Per pixel, the table's expected a*b* under the soft weights is within a unit of
        // the exact one's.
        let mean_ab = |i: &Tensor, w: &Tensor| {
            (centres
                .index_select(0, &i.flatten(0, -1))
                .view([-1, SOFT_NEIGHBOURS, 2])
                * w.unsqueeze(-1))
            .sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
        };
        let exact = mean_ab(&exact_i, &exact_w);
        let table = mean_ab(
            &table_i.permute([0, 2, 3, 1]).reshape([-1, SOFT_NEIGHBOURS]),
            &table_w.permute([0, 2, 3, 1]).reshape([-1, SOFT_NEIGHBOURS]),
        );
        // A pixel lies at most 0.71 units from its grid point, and at a boundary between
        // neighbour sets the fifth neighbour changes too: within 1.5 units, far below the
        // kernel's sigma of 5.
        let worst = f64::try_from((exact - table).abs().max()).unwrap() * AB_SCALE;
        assert!(worst < 1.5, "table vs exact: {worst} a*b* units");
    }

    #[test]
    fn rebalancing_favours_rare_colours_with_unit_mean() {
        let centres = centres_tensor(tch::Device::Cpu);
        // Mostly grey targets, a few saturated red ones.
        let mut a = vec![0.0f32; 100];
        a[..5].iter_mut().for_each(|v| *v = 0.6);
        let b = vec![0.0f32; 100];
        let ab = Tensor::from_slice(&[a, b].concat()).view([1, 2, 10, 10]);
        let (w, prior) = rebalancing_weights(&ab, &centres, 0.5);
        let mean = f64::try_from((&w * &prior).sum(Kind::Float)).unwrap();
        assert!((mean - 1.0).abs() < 1e-4);
        let grey = centres_index(&centres, 0.0, 0.0);
        let red = centres_index(&centres, 0.6, 0.0);
        let wv: Vec<f32> = Vec::try_from(&w).unwrap();
        assert!(
            wv[red] > wv[grey] * 2.0,
            "red {} grey {}",
            wv[red],
            wv[grey]
        );
    }

    fn centres_index(centres: &Tensor, a: f32, b: f32) -> usize {
        let all: Vec<f32> = Vec::try_from(centres.flatten(0, -1)).unwrap();
        all.chunks(2)
            .position(|c| (c[0] - a).abs() < 1e-6 && (c[1] - b).abs() < 1e-6)
            .unwrap()
    }

    #[test]
    fn cross_entropy_is_lowest_for_logits_that_match_the_target() {
        let centres = centres_tensor(tch::Device::Cpu);
        let q = centres.size()[0];
        let ab = Tensor::from_slice(&[0.3f32, -0.2]).view([1, 2, 1, 1]);
        let (indices, soft) = soft_encode(&ab, &centres);
        let right = Tensor::zeros([1, q, 1, 1], (Kind::Float, tch::Device::Cpu));
        let _ = right.view([q]).index_put_(
            &[Some(indices.view([-1]))],
            &(soft.view([-1]).log() + 10.0),
            false,
        );
        let flat = Tensor::zeros([1, q, 1, 1], (Kind::Float, tch::Device::Cpu));
        let ones = Tensor::ones([q], (Kind::Float, tch::Device::Cpu));
        let encoder = SoftEncoder::new(&centres);
        let good = f64::try_from(cross_entropy(&right, &ab, &encoder, &ones)).unwrap();
        let bad = f64::try_from(cross_entropy(&flat, &ab, &encoder, &ones)).unwrap();
        assert!(good < bad, "matched {good} vs flat {bad}");
        // Decoding the matched logits at T = 1 gives back roughly the target.
        let decoded: Vec<f32> =
            Vec::try_from(annealed_mean(&right, &centres, None, 1.0).flatten(0, -1)).unwrap();
        assert!(
            (decoded[0] - 0.3).abs() < 0.02 && (decoded[1] + 0.2).abs() < 0.02,
            "{decoded:?}"
        );
    }
}
