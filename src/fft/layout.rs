//! How a convolution is cut into FFT tiles: transform size, outputs per tile, and where each
//! tile reads and writes, per convolved axis.
//!
//! A tile computes a circular convolution of length `F` of an input window starting at
//! `base + i0` with the kernel at the origin, and keeps `tile` outputs starting at `extract`
//! of the circular result, for outputs `i0..i0 + tile`. Two layouts:
//!
//! * whole: one tile per axis, the signal at the origin (`base = 0`), `F` just large enough
//!   that the outputs of the mode do not alias: `F >= max(off + m, n + k - 1 - off, k)` with
//!   `off = start + k - 1` (so 'valid' needs only `F >= n`, not `n + k - 1`);
//! * overlap-save: tiles of `L = F - k + 1` outputs, each reading `F` inputs from
//!   `start + i0` (zeros outside the signal) and keeping the last `L` circular outputs, the
//!   ones without wrap-around (`extract = k - 1`). Every output is written by exactly one tile.

use crate::error::{ConvError, Result};
use crate::fft::sizes::{fast_len, fast_real_len};
use crate::fft::two_phase;
use crate::geometry::AxisGeometry;

/// Per-axis tiling of an FFT convolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FftLayout {
    /// Transform length per axis.
    pub f: Vec<usize>,
    /// Outputs per tile per axis.
    pub tile: Vec<usize>,
    /// Index in the circular result of a tile's first output.
    pub extract: Vec<usize>,
    /// Input index read at transform position 0 by the tile whose first output is 0.
    pub base: Vec<isize>,
}

fn transform_len(need: usize, last: bool, real: bool) -> usize {
    if last && real {
        fast_real_len(need)
    } else {
        fast_len(need)
    }
}

impl FftLayout {
    /// One tile covering the whole output.
    pub fn whole(axes: &[AxisGeometry], real: bool) -> Self {
        let d = axes.len();
        let mut layout = FftLayout {
            f: vec![],
            tile: vec![],
            extract: vec![],
            base: vec![],
        };
        for (i, g) in axes.iter().enumerate() {
            let off = (g.start + g.k as isize - 1) as usize;
            // The kernel is placed whole in the tile, so F >= k as well.
            let need = (off + g.m).max(g.n + g.k - 1 - off).max(g.k);
            // A long 1-D transform runs in two phases ([`two_phase`]), with its own lengths.
            let f = match two_phase::transform_len(need) {
                Some(f) if d == 1 => f,
                _ => transform_len(need, i + 1 == d, real),
            };
            layout.f.push(f);
            layout.tile.push(g.m);
            layout.extract.push(off);
            layout.base.push(0);
        }
        layout
    }

    /// Overlap-save tiles of about `block[d]` outputs per axis (rounded up so that the
    /// transform length is fast).
    ///
    /// # Errors
    /// [`ConvError::Value`] if `block` has the wrong length or a zero entry.
    pub fn overlap_save(axes: &[AxisGeometry], block: &[usize], real: bool) -> Result<Self> {
        if block.len() != axes.len() || block.contains(&0) {
            return Err(ConvError::value(
                "one positive block length per convolved axis",
            ));
        }
        let d = axes.len();
        let mut layout = FftLayout {
            f: vec![],
            tile: vec![],
            extract: vec![],
            base: vec![],
        };
        for (i, (g, &b)) in axes.iter().zip(block).enumerate() {
            let f = transform_len(b.min(g.m) + g.k - 1, i + 1 == d, real);
            layout.f.push(f);
            layout.tile.push(f - g.k + 1);
            layout.extract.push(g.k - 1);
            layout.base.push(g.start);
        }
        Ok(layout)
    }

    /// Tiles per axis for outputs of lengths `m`.
    pub fn tiles_per_axis(&self, axes: &[AxisGeometry]) -> Vec<usize> {
        axes.iter()
            .zip(&self.tile)
            .map(|(g, &t)| g.m.div_ceil(t))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Mode;

    #[test]
    fn whole_layout_sizes_avoid_aliasing() {
        let g = AxisGeometry::new(100, 11, Mode::Valid).unwrap();
        let l = FftLayout::whole(&[g], true);
        assert!(
            l.f[0] >= 100 && l.f[0] < 110,
            "valid needs only n: {:?}",
            l.f
        );
        assert_eq!(l.extract[0], 10);
        let g = AxisGeometry::new(100, 11, Mode::Full).unwrap();
        assert!(FftLayout::whole(&[g], true).f[0] >= 110);
    }

    #[test]
    fn overlap_save_tiles_cover_the_output() {
        let g = AxisGeometry::new(10_000, 33, Mode::Same).unwrap();
        let l = FftLayout::overlap_save(&[g], &[1000], true).unwrap();
        assert!(l.tile[0] >= 1000);
        assert_eq!(l.f[0], l.tile[0] + 32);
        assert!(l.tiles_per_axis(&[g])[0] * l.tile[0] >= 10_000);
    }
}
