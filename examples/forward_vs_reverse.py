"""Forward or reverse mode? The Jacobian of g: R^d -> R^K costs d forward passes or K backward passes.

g(x) = W_out tanh(W_N ... tanh(W_1 x)): N tanh layers of width H, then a linear map to K outputs. Forward mode
(dagrad.func.jacfwd) pushes one tangent per input direction through g: d Jacobian-vector products, each
about the cost of evaluating g. Reverse mode (dagrad.func.jacrev) evaluates g once and pulls one cotangent
per output back: K vector-Jacobian products. So the lecture's rule: forward mode wins when K > d (few inputs,
many outputs), reverse mode when K < d (many inputs, few outputs: a loss is K = 1, hence backpropagation).

Both transforms batch their d (or K) passes through vmap, so Python overhead is paid once and the work is d
(or K) columns in each matrix product. The script times both (the median of several runs) over a grid of d
and K, checks that the two Jacobians agree, and prints the number of passes each mode needs (d and K: the
deterministic part of the cost) next to the measured time ratio.

    python3 examples/forward_vs_reverse.py [--sizes 2 8 32 128] [--hidden 256] [--layers 4] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import dagrad as dg
from dagrad.func import jacfwd, jacrev


def make_g(d: int, k: int, hidden: int, layers: int) -> Callable[[dg.Tensor], dg.Tensor]:
    """g: (d,) -> (K,), `layers` tanh layers of width `hidden` then a linear output; float64 weights with
    variance 1 / fan_in so the tanh units neither saturate nor vanish."""
    sizes = [d] + [hidden] * layers
    weights = [dg.randn(n, m, dtype=dg.float64) / m**0.5 for m, n in zip(sizes[:-1], sizes[1:])]
    w_out = dg.randn(k, hidden, dtype=dg.float64) / hidden**0.5

    def g(x: dg.Tensor) -> dg.Tensor:
        for w in weights:
            x = (w @ x).tanh()
        return w_out @ x

    return g


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """The median wall time of fn() over `repeats` calls, after one warm-up call, in seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(d: int, k: int, hidden: int, layers: int, repeats: int) -> dict:
    """Times of jacfwd and jacrev for one (d, K), their ratio, the passes each needs and the Jacobians' gap."""
    g = make_g(d, k, hidden, layers)
    x = dg.randn(d, dtype=dg.float64)
    j_fwd, j_rev = jacfwd(g)(x), jacrev(g)(x)
    t_fwd = median_time(lambda: jacfwd(g)(x), repeats)
    t_rev = median_time(lambda: jacrev(g)(x), repeats)
    return {
        "d": d, "K": k, "fwd_passes": d, "rev_passes": k, "fwd_s": t_fwd, "rev_s": t_rev,
        "rev_over_fwd": t_rev / t_fwd, "max_abs_diff": float((j_fwd - j_rev).abs().max()),
        "shape": tuple(j_fwd.shape),
    }  # fmt: skip


def save_figure(rows: list[dict], sizes: list[int], path: Path) -> str | None:
    """Left: log2(reverse time / forward time) over the (d, K) grid. Right: both times along the grid's edges."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib is not installed (pip install 'dagrad[viz]'): no figure written")
        return None
    n = len(sizes)
    ratio = np.log2([[r["rev_over_fwd"] for r in rows[i * n : (i + 1) * n]] for i in range(n)])
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    lim = max(np.abs(ratio).max(), 1.0)
    image = left.imshow(ratio, cmap="coolwarm", vmin=-lim, vmax=lim, origin="lower")
    for i in range(n):
        for j in range(n):
            left.text(j, i, f"{2 ** ratio[i, j]:.2g}", ha="center", va="center", fontsize=8)
    left.set_xticks(range(n), sizes)
    left.set_yticks(range(n), sizes)
    left.set_xlabel("outputs K")
    left.set_ylabel("inputs d")
    left.set_title("reverse time / forward time (red: forward wins)")
    fig.colorbar(image, ax=left, label="log2 ratio")
    small = sizes[0]
    along_k = [r for r in rows if r["d"] == small]
    along_d = [r for r in rows if r["K"] == small]
    right.loglog(sizes, [r["fwd_s"] * 1e3 for r in along_k], "o-", color="C3", label=f"jacfwd, d = {small}")
    right.loglog(sizes, [r["rev_s"] * 1e3 for r in along_k], "o-", color="C0", label=f"jacrev, d = {small}")
    right.loglog(sizes, [r["fwd_s"] * 1e3 for r in along_d], "s--", color="C3", label=f"jacfwd, K = {small}")
    right.loglog(sizes, [r["rev_s"] * 1e3 for r in along_d], "s--", color="C0", label=f"jacrev, K = {small}")
    right.set_xlabel("the other dimension (K for solid lines, d for dashed)")
    right.set_ylabel("median time (ms)")
    right.set_title("each mode's time grows with its number of passes")
    right.grid(True, which="both", alpha=0.3)
    right.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return str(path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 8, 32, 128], help="values of d and of K")
    parser.add_argument("--hidden", type=int, default=256, help="width H of the tanh layers")
    parser.add_argument("--layers", type=int, default=4, help="number N of tanh layers")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per Jacobian (the median is kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("examples/out"), help="directory for the figure")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    sizes = sorted(set(args.sizes))
    dg.manual_seed(args.seed)
    rows = [compare(d, k, args.hidden, args.layers, args.repeats) for d in sizes for k in sizes]
    print(f"Jacobian of g: R^d -> R^K, {args.layers} tanh layers of width {args.hidden}; median of {args.repeats}")
    print(f"{'d':>5} {'K':>5} {'fwd passes':>10} {'rev passes':>10} {'jacfwd ms':>10} {'jacrev ms':>10} "
          f"{'rev/fwd':>8} {'faster':>8} {'max |diff|':>11}")  # fmt: skip
    for r in rows:
        faster = "forward" if r["rev_over_fwd"] > 1 else "reverse"
        print(
            f"{r['d']:>5} {r['K']:>5} {r['fwd_passes']:>10} {r['rev_passes']:>10} {r['fwd_s'] * 1e3:>10.3f} "
            f"{r['rev_s'] * 1e3:>10.3f} {r['rev_over_fwd']:>8.2f} {faster:>8} {r['max_abs_diff']:>11.2e}"
        )
    # the rule from counting passes: forward mode is cheaper exactly when it needs fewer passes (d < K)
    off_diagonal = [r for r in rows if r["d"] != r["K"]]
    agree = sum((r["rev_over_fwd"] > 1) == (r["d"] < r["K"]) for r in off_diagonal)
    print(f"the faster mode is the one with fewer passes in {agree} of {len(off_diagonal)} cells with d != K")
    figure = save_figure(rows, sizes, args.out / "forward_vs_reverse.png")
    if figure is not None:
        print(f"figure: {figure}")
    return {
        "rows": rows, "max_abs_diff": max(r["max_abs_diff"] for r in rows),
        "rule_agreement": agree / max(len(off_diagonal), 1), "figure": figure,
    }  # fmt: skip


if __name__ == "__main__":
    main()
