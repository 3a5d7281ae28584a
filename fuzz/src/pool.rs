//! Fuzz target `pool`: max and average pooling (`fastconv::nn::pool`) against naive loops
//! written here from torch's CPU kernels.
//!
//! A case decodes 1 to 3 spatial axes (input size, kernel, stride, padding, dilation),
//! `ceil_mode`, the number of `(n, c)` planes and the average-pooling options: mostly small
//! values, sometimes wild ones that must be refused or accepted with torch's output size,
//! never panic. Valid small shapes run every entry point on 1 and 3 threads (bitwise
//! identical) with values that include NaN and infinities in some cases: max pooling must
//! match the reference exactly (values and indices, the backward pass too, summed in the
//! element type in output order), average pooling within a tolerance of a float64 reference.
//! Rare big cases cross the core's parallel threshold. Buffers of the wrong length and indices
//! outside their plane must be refused.

use fastconv::nn::pool::{
    avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, AvgOptions, PoolArgs,
    PoolGeometry, MAX_EXTENT,
};

use crate::input::Bytes;
use crate::nn_common::{
    assert_close, assert_same_bits, product, rare, values, wrong_len, NnFloat, Ref, ValueKind,
};

/// The most scalar steps (output elements times window taps) of a small case.
const SMALL_STEPS: usize = 200_000;
/// The most scalar steps of a big case: enough to pass the core's parallel threshold
/// (`steps * size_of::<T>() * 16 >= 2^24`, 262,144 steps for `f32`).
const BIG_STEPS: usize = 600_000;
/// The most input or output elements of a small case.
const SMALL_BUF: usize = 1 << 16;
/// The most input or output elements of a big case.
const BIG_BUF: usize = 1 << 20;

/// One pooled axis as decoded.
#[derive(Clone, Copy, Debug)]
struct Axis {
    n: usize,
    k: usize,
    s: usize,
    p: usize,
    d: usize,
}

/// A decoded case.
#[derive(Debug)]
struct Case {
    axes: Vec<Axis>,
    planes: usize,
    ceil: bool,
    opts: AvgOptions,
    big: bool,
}

/// torch's `pooling_output_shape` and `pool2d_shape_check`, in `i128`: `None` when the
/// arguments must be refused.
fn expect_len(a: &Axis, ceil: bool) -> Option<usize> {
    let vals = [a.n, a.k, a.s, a.p, a.d];
    if vals.iter().any(|&v| v > MAX_EXTENT) || a.n == 0 || a.k == 0 || a.s == 0 || a.d == 0 {
        return None;
    }
    if a.p > a.k / 2 {
        return None;
    }
    let [n, k, s, p, d] = vals.map(|v| v as i128);
    let num = n + 2 * p - d * (k - 1) - 1 + if ceil { s - 1 } else { 0 };
    // div_rtn: rounds towards negative infinity.
    let mut out = num.div_euclid(s) + 1;
    // The last window must start inside the input or the left padding.
    if ceil && (out - 1) * s >= n + p {
        out -= 1;
    }
    (out >= 1).then_some(out as usize)
}

fn decode(b: &mut Bytes<'_>) -> Case {
    let big = rare(b, 256);
    let wild = !big && rare(b, 12);
    let nd = if big { b.range(1, 2) } else { b.range(1, 3) };
    let nmax = match (big, nd) {
        (true, 1) => 8192,
        (true, _) => 128,
        (false, 1) => 40,
        (false, 2) => 10,
        (false, _) => 6,
    };
    let nonzero = |b: &mut Bytes<'_>, hi: usize| {
        if rare(b, 32) {
            0
        } else {
            b.range(1, hi)
        }
    };
    let mut axes: Vec<Axis> = (0..nd)
        .map(|_| Axis {
            n: nonzero(b, nmax),
            k: nonzero(b, 4),
            s: nonzero(b, 3),
            p: b.below(3),
            // Average pooling refuses any dilation but 1.
            d: if rare(b, 3) { nonzero(b, 3) } else { 1 },
        })
        .collect();
    let mut planes = if big { b.range(8, 64) } else { b.below(5) };
    let ceil = b.bool();
    let opts = AvgOptions {
        count_include_pad: b.bool(),
        divisor_override: match b.u8() % 8 {
            0..=4 => None,
            5 => Some(b.range(1, 9) as i64 - 5),
            6 => Some([0, i64::MIN, i64::MAX, -1, 1 << 40][b.below(5)]),
            _ => Some(b.u64() as i64),
        },
    };
    if wild {
        if rare(b, 3) {
            planes = b.wild_size();
        }
        for a in &mut axes {
            for v in [&mut a.n, &mut a.k, &mut a.s, &mut a.p, &mut a.d] {
                if rare(b, 4) {
                    *v = b.wild_size();
                }
            }
        }
    }
    Case {
        axes,
        planes,
        ceil,
        opts,
        big,
    }
}

/// `PoolGeometry::new` with the case's per-axis lists (`drop` removes one entry of one list).
fn geometry(case: &Case, drop: Option<usize>) -> fastconv::error::Result<PoolGeometry> {
    let mut cols: Vec<Vec<usize>> = (0..5)
        .map(|f| {
            case.axes
                .iter()
                .map(|a| [a.n, a.k, a.s, a.p, a.d][f])
                .collect()
        })
        .collect();
    if let Some(f) = drop {
        cols[f].pop();
    }
    let args = PoolArgs {
        kernel: &cols[1],
        stride: &cols[2],
        padding: &cols[3],
        dilation: &cols[4],
        ceil_mode: case.ceil,
    };
    PoolGeometry::new(case.planes, &cols[0], &args)
}

/// Fuzz target `pool`: see the module documentation.
pub fn run_pool(data: &[u8]) {
    let mut b = Bytes::new(data);
    if b.bool() {
        pool_case::<f32>(&mut b);
    } else {
        pool_case::<f64>(&mut b);
    }
}

/// The case's geometry in three axes (leading unit axes), as the reference sees it.
struct Geo {
    n: [usize; 3],
    k: [usize; 3],
    s: [usize; 3],
    p: [usize; 3],
    d: [usize; 3],
    o: [usize; 3],
}

impl Geo {
    fn out_plane(&self) -> usize {
        self.o.iter().product()
    }

    /// Calls `f(output index, [lo, hi) per axis, padded length per axis)` for every output
    /// element of a plane, with average pooling's window clipped to the input (`lo..hi`) and
    /// to the padded input (the length).
    fn avg_windows(&self, mut f: impl FnMut(usize, [(usize, usize); 3], [i128; 3])) {
        let mut oi = 0;
        for o0 in 0..self.o[0] {
            for o1 in 0..self.o[1] {
                for o2 in 0..self.o[2] {
                    let o = [o0, o1, o2];
                    let mut range = [(0, 0); 3];
                    let mut padded = [0i128; 3];
                    for a in 0..3 {
                        let (n, p) = (self.n[a] as i128, self.p[a] as i128);
                        let start = (o[a] * self.s[a]) as i128 - p;
                        let end = (start + self.k[a] as i128).min(n + p);
                        padded[a] = end - start;
                        let (lo, hi) = (start.max(0), end.min(n));
                        range[a] = (lo.max(0) as usize, hi.max(lo) as usize);
                    }
                    f(oi, range, padded);
                    oi += 1;
                }
            }
        }
    }
}

/// Max pooling of one plane, from torch's kernel: taps `o * s - p + j * d` for `j < k`
/// inside the input, in C order; a tap replaces the maximum when greater or NaN; the index
/// starts at the first tap at or past 0 of each axis (even when outside the input, for a
/// window without input element) and the value at -inf.
fn max_reference<T: NnFloat>(g: &Geo, x: &[T]) -> (Vec<T>, Vec<i64>) {
    let mut out = Vec::with_capacity(g.out_plane());
    let mut idx = Vec::with_capacity(g.out_plane());
    for o0 in 0..g.o[0] {
        for o1 in 0..g.o[1] {
            for o2 in 0..g.o[2] {
                let o = [o0, o1, o2];
                let mut start = [0i64; 3];
                let mut first = [0i64; 3];
                for a in 0..3 {
                    start[a] = (o[a] * g.s[a]) as i64 - g.p[a] as i64;
                    let d = g.d[a] as i64;
                    first[a] = (0..)
                        .map(|j| start[a] + j * d)
                        .find(|&t| t >= 0)
                        .expect("tap");
                }
                let [_, n1, n2] = g.n.map(|v| v as i64);
                let tap = |a: usize, j: usize| {
                    let t = start[a] + j as i64 * g.d[a] as i64;
                    (t >= 0 && t < g.n[a] as i64).then_some(t)
                };
                let mut best = T::of(f64::NEG_INFINITY);
                let mut at = (first[0] * n1 + first[1]) * n2 + first[2];
                for t0 in (0..g.k[0]).filter_map(|j| tap(0, j)) {
                    for t1 in (0..g.k[1]).filter_map(|j| tap(1, j)) {
                        for t2 in (0..g.k[2]).filter_map(|j| tap(2, j)) {
                            let i = (t0 * n1 + t1) * n2 + t2;
                            let v = x[i as usize];
                            if v.f() > best.f() || v.f().is_nan() {
                                best = v;
                                at = i;
                            }
                        }
                    }
                }
                out.push(best);
                idx.push(at);
            }
        }
    }
    (out, idx)
}

/// Refs that demand `v` exactly (NaN: any NaN).
fn exact<T: NnFloat>(v: &[T]) -> Vec<Ref> {
    v.iter()
        .map(|&v| Ref {
            v: v.f(),
            abs: 0.0,
            terms: 0,
        })
        .collect()
}

fn pool_case<T: NnFloat>(b: &mut Bytes<'_>) {
    let case = decode(b);
    let kind = ValueKind::decode(b, true);
    let seed = b.u64();

    if rare(b, 32) {
        let f = b.below(5);
        assert!(
            geometry(&case, Some(f)).is_err(),
            "PoolGeometry::new accepted lists of different lengths"
        );
    }
    let want: Option<Vec<usize>> = case.axes.iter().map(|a| expect_len(a, case.ceil)).collect();
    let got = geometry(&case, None);
    let lead = 3 - case.axes.len();
    let mut g = Geo {
        n: [1; 3],
        k: [1; 3],
        s: [1; 3],
        p: [0; 3],
        d: [1; 3],
        o: [1; 3],
    };
    let (in_plane, out_plane) = match &want {
        Some(outs) => {
            for (i, (a, &o)) in case.axes.iter().zip(outs).enumerate() {
                let x = lead + i;
                (g.n[x], g.k[x], g.s[x], g.p[x], g.d[x], g.o[x]) = (a.n, a.k, a.s, a.p, a.d, o);
            }
            (product(&g.n), product(&g.o))
        }
        None => (None, None),
    };
    let totals = in_plane
        .and_then(|i| product(&[case.planes, i]))
        .zip(out_plane.and_then(|o| product(&[case.planes, o])));
    let geom = match (got, totals) {
        (Err(_), None) => return,
        (Ok(geom), None) => panic!("PoolGeometry::new accepted {case:?}: {geom:?}"),
        (Err(e), Some(_)) => panic!("PoolGeometry::new refused {case:?} ({want:?}): {e}"),
        (Ok(geom), Some(_)) => geom,
    };
    let (in_plane, out_plane) = (in_plane.expect("valid"), out_plane.expect("valid"));
    let (in_total, out_total) = totals.expect("valid");
    assert_eq!(
        (
            geom.input,
            geom.output,
            geom.kernel,
            geom.stride,
            geom.padding,
            geom.dilation
        ),
        (g.n, g.o, g.k, g.s, g.p, g.d),
        "PoolGeometry of {case:?}"
    );
    assert_eq!(geom.output_spatial(), &g.o[lead..], "output_spatial");
    assert_eq!(
        (geom.input_plane().ok(), geom.output_plane().ok()),
        (Some(in_plane), Some(out_plane))
    );

    let window = product(&g.k).unwrap_or(usize::MAX);
    let steps = out_total.saturating_mul(window);
    let (step_cap, buf_cap) = if case.big {
        (BIG_STEPS, BIG_BUF)
    } else {
        (SMALL_STEPS, SMALL_BUF)
    };
    if steps > step_cap || in_total > buf_cap || out_total > buf_cap {
        // Too large to allocate: an empty input is refused unless the input is empty.
        let e = Vec::<T>::new();
        if in_total > 0 {
            assert!(
                max_pool_forward(&e, &geom, 3).is_err(),
                "max_pool_forward of {case:?}"
            );
            let r = avg_pool_forward(&e, &geom, case.opts, 3);
            assert!(r.is_err(), "avg_pool_forward of {case:?}");
        }
        if out_total > 0 {
            let r = avg_pool_backward(&e, &geom, case.opts, 3);
            assert!(r.is_err(), "avg_pool_backward of {case:?}");
        }
        wild_max_backward::<T>(b);
        return;
    }

    let x: Vec<T> = values(b, in_total, kind, seed);
    let go: Vec<T> = values(b, out_total, kind, seed ^ 1);

    // Max pooling forward: exact values and indices, identical on 1 and 3 threads.
    let (y1, i1) = max_pool_forward(&x, &geom, 1).expect("max_pool_forward");
    let (y3, i3) = max_pool_forward(&x, &geom, 3).expect("max_pool_forward");
    assert_same_bits("max_pool_forward", &y1, &y3);
    assert_eq!(
        i1, i3,
        "max_pool_forward indices depend on the thread count"
    );
    let (mut want_y, mut want_i) = (Vec::new(), Vec::new());
    for p in 0..case.planes {
        let (y, i) = max_reference(&g, &x[p * in_plane..(p + 1) * in_plane]);
        want_y.extend(y);
        want_i.extend(i);
    }
    assert_close("max_pool_forward", &y1, &exact(&want_y), false);
    assert_eq!(i1, want_i, "max_pool_forward indices");

    // Max pooling backward, with one index sometimes moved anywhere.
    let mut idx = i1;
    if !idx.is_empty() && rare(b, 4) {
        let at = b.below(idx.len());
        let ip = in_plane as i64;
        idx[at] = [
            -1,
            -2,
            ip,
            ip - 1,
            i64::MIN,
            i64::MAX,
            b.below(in_plane) as i64,
        ][b.below(7)];
    }
    let valid = idx
        .iter()
        .all(|&i| i == -1 || (0..in_plane as i64).contains(&i));
    let run = |t: usize| max_pool_backward(&go, &idx, case.planes, in_plane, out_plane, t);
    match (run(1), run(3)) {
        (Ok(a), Ok(c)) => {
            assert!(
                valid,
                "max_pool_backward accepted an index outside its plane"
            );
            assert_same_bits("max_pool_backward", &a, &c);
            // torch's loop in T: zeroed planes, gradients added in output order.
            let mut want = vec![T::of(0.0); in_total];
            for p in 0..case.planes {
                for o in 0..out_plane {
                    let i = idx[p * out_plane + o];
                    if i != -1 {
                        let slot = &mut want[p * in_plane + i as usize];
                        *slot += go[p * out_plane + o];
                    }
                }
            }
            assert_close("max_pool_backward", &a, &exact(&want), false);
        }
        (Err(_), Err(_)) => assert!(!valid, "max_pool_backward refused valid indices"),
        _ => panic!("max_pool_backward: 1 and 3 threads disagree on success"),
    }

    // Average pooling: refused with a dilation or a zero divisor.
    let avg_ok = g.d == [1; 3] && case.opts.divisor_override != Some(0);
    let fwd = |t: usize| avg_pool_forward(&x, &geom, case.opts, t);
    let bwd = |t: usize| avg_pool_backward(&go, &geom, case.opts, t);
    if !avg_ok {
        assert!(fwd(1).is_err(), "avg_pool_forward accepted {case:?}");
        assert!(bwd(3).is_err(), "avg_pool_backward accepted {case:?}");
    } else {
        let divisor = |range: [(usize, usize); 3], padded: [i128; 3]| -> f64 {
            match case.opts.divisor_override {
                Some(d) => d as f64,
                None if case.opts.count_include_pad => padded.iter().product::<i128>() as f64,
                None => range.iter().map(|&(l, h)| (h - l) as f64).product(),
            }
        };
        let (a1, a3) = (fwd(1).expect("avg_pool_forward"), fwd(3).expect("avg"));
        assert_same_bits("avg_pool_forward", &a1, &a3);
        assert!(
            a1.iter().all(|v| v.bits() != T::of(-0.0).bits()),
            "avg_pool_forward returned -0.0 (torch gives +0.0)"
        );
        let mut want_f = vec![Ref::default(); out_total];
        let mut want_b = vec![Ref::default(); in_total];
        let [_, n1, n2] = g.n;
        for p in 0..case.planes {
            let (xp, op, ip) = (p * in_plane, p * out_plane, p * in_plane);
            g.avg_windows(|o, range, padded| {
                if range.iter().any(|&(l, h)| l >= h) {
                    return; // no input element: 0, and no gradient
                }
                let div = divisor(range, padded);
                for t0 in range[0].0..range[0].1 {
                    for t1 in range[1].0..range[1].1 {
                        for t2 in range[2].0..range[2].1 {
                            let i = (t0 * n1 + t1) * n2 + t2;
                            want_f[op + o].add(x[xp + i].f() / div);
                            want_b[ip + i].add(go[op + o].f() / div);
                        }
                    }
                }
            });
        }
        assert_close("avg_pool_forward", &a1, &want_f, true);
        let (b1, b3) = (bwd(1).expect("avg_pool_backward"), bwd(3).expect("avg"));
        assert_same_bits("avg_pool_backward", &b1, &b3);
        assert_close("avg_pool_backward", &b1, &want_b, true);
    }

    // Buffers of the wrong length.
    if !case.big {
        let xw = vec![T::of(0.0); wrong_len(b, in_total)];
        let gw = vec![T::of(0.0); wrong_len(b, out_total)];
        let iw = vec![-1i64; wrong_len(b, out_total)];
        assert!(
            max_pool_forward(&xw, &geom, 1).is_err(),
            "max_pool_forward: wrong length"
        );
        let r = avg_pool_forward(&xw, &geom, case.opts, 1);
        assert!(r.is_err(), "avg_pool_forward: wrong length");
        let r = avg_pool_backward(&gw, &geom, case.opts, 1);
        assert!(r.is_err(), "avg_pool_backward: wrong length");
        let r = max_pool_backward(&gw, &idx, case.planes, in_plane, out_plane, 1);
        assert!(r.is_err(), "max_pool_backward: wrong grad_output length");
        let r = max_pool_backward(&go, &iw, case.planes, in_plane, out_plane, 1);
        assert!(r.is_err(), "max_pool_backward: wrong indices length");
    }
}

/// `max_pool_backward` with plane sizes of any value and tiny buffers: refused unless the
/// lengths match and every index is -1 or inside its plane; never a panic.
fn wild_max_backward<T: NnFloat>(b: &mut Bytes<'_>) {
    let (planes, in_plane, out_plane) = (b.wild_size(), b.wild_size(), b.wild_size());
    let go = vec![T::of(1.0); b.below(3)];
    let idx: Vec<i64> = (0..b.below(3))
        .map(|_| [-1, 0, 1, -2][b.below(4)])
        .collect();
    let total_in = product(&[planes, in_plane]);
    if total_in.is_some_and(|t| t > 1 << 20) {
        return; // a valid request for a huge gradient: not a validation question
    }
    let ok = product(&[planes, out_plane]).is_some_and(|t| t == go.len() && t == idx.len())
        && total_in.is_some()
        && idx
            .iter()
            .all(|&i| i == -1 || (i >= 0 && (i as u128) < in_plane as u128));
    let res = max_pool_backward(&go, &idx, planes, in_plane, out_plane, 3);
    assert_eq!(
        res.is_ok(),
        ok,
        "max_pool_backward(planes {planes}, in_plane {in_plane}, out_plane {out_plane}, \
         {} gradients, indices {idx:?})",
        go.len()
    );
}
