"""A one-layer network with softmax and cross-entropy, trained to convergence, is logistic regression.

nn.Linear(D, 10) followed by softmax and the cross-entropy loss computes the multinomial logistic regression
model p(y = c | x) = softmax(W x + b)_c and its negative log-likelihood. With weight decay lam on W (not on b)
the full-batch objective is convex and has one minimiser in W:

    f(W, b) = (1/n) sum_i -log softmax(W x_i + b)_{y_i} + (lam / 2) ||W||^2.

scikit-learn's LogisticRegression minimises C sum_i -log p(y_i | x_i) + (1/2) ||W||^2 (intercept unpenalised),
which is f scaled by n C when lam = 1 / (n C): so C = 1 / (n lam) is the matching setting.

The script trains the layer with dagrad (float64, full batch) by Adam with a cosine-annealed step, or by
Nesterov's accelerated gradient descent with the textbook step 1/L and momentum (sqrt(k) - 1) / (sqrt(k) + 1),
where L = lam + ||[X 1]||_2^2 / (2n) bounds the objective's curvature and k = L / lam. It then minimises the
same f with scipy.optimize.minimize (L-BFGS, exact gradient) and, when scikit-learn is installed, fits
LogisticRegression(C = 1 / (n lam)). It reports the objective gaps, the gradient norm at dagrad's solution,
the relative distance between the weight matrices and how often the predicted classes agree, on the training
images and on held-out test images. Data: Fashion-MNIST images from the subset shipped with dagrad,
averaged over pool x pool blocks (pool 2: 14 x 14 = 196 features), in [0, 1].

    python3 examples/logistic_regression.py [--n 2000] [--pool 2] [--lam 1e-2] [--optimizer adam] [--steps 1500]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

import dagrad as dg
import dagrad.nn.functional as F
from dagrad import nn
from dagrad.data.datasets import EmbeddedFashionMNIST

CLASSES = 10


def load(train: bool, n: int, pool: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n images of a split, averaged over pool x pool blocks and flattened (float64 in [0, 1])."""
    data = EmbeddedFashionMNIST(train=train)
    images = data.data[:n].astype(np.float64) / 255
    side = 28 // pool
    images = images[:, : side * pool, : side * pool].reshape(len(images), side, pool, side, pool).mean((2, 4))
    return images.reshape(len(images), -1), data.targets[:n]


def objective(w: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray, lam: float) -> tuple[float, tuple]:
    """f(W, b) and its gradient (dW, db) in closed form, in NumPy: the reference for the comparison."""
    z = x @ w.T + b
    lse = logsumexp(z, axis=1)
    rows = np.arange(len(y))
    value = float(np.mean(lse - z[rows, y]) + lam / 2 * np.sum(w * w))
    p = np.exp(z - lse[:, None])
    p[rows, y] -= 1
    p /= len(y)
    return value, (p.T @ x + lam * w, p.sum(0))


def smoothness(x: np.ndarray, lam: float) -> float:
    """L = lam + sigma_max([X 1])^2 / (2n): the softmax cross-entropy's Hessian in the logits is at most I / 2."""
    ones = np.hstack([x, np.ones((len(x), 1))])
    return lam + np.linalg.norm(ones, 2) ** 2 / (2 * len(x))


def train_dagrad(x: np.ndarray, y: np.ndarray, lam: float, optimizer: str, steps: int, lr: float, tol: float) -> dict:
    """Full-batch training of nn.Linear with cross-entropy and weight decay lam on the weight; stops when the
    objective's gradient norm is below tol. Returns W, b, the objective per step and the steps taken."""
    layer = nn.Linear(x.shape[1], CLASSES, dtype=dg.float64)
    groups = [{"params": [layer.weight], "weight_decay": lam}, {"params": [layer.bias], "weight_decay": 0.0}]
    if optimizer == "adam":
        opt = dg.optim.Adam(groups, lr=lr)
        schedule = dg.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    else:
        big_l = smoothness(x, lam)
        root_k = np.sqrt(big_l / lam)
        opt = dg.optim.SGD(groups, lr=1 / big_l, momentum=(root_k - 1) / (root_k + 1), nesterov=True)
        schedule = None
    inputs, targets = dg.tensor(x), dg.tensor(y)
    curve = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(layer(inputs), targets)
        loss.backward()
        w, gw, gb = layer.weight.data, layer.weight.grad.data + lam * layer.weight.data, layer.bias.grad.data
        curve.append(loss.item() + lam / 2 * float(np.sum(w * w)))
        if np.sqrt(np.sum(gw * gw) + np.sum(gb * gb)) < tol:
            break
        opt.step()
        if schedule is not None:
            schedule.step()
    return {"W": layer.weight.data.copy(), "b": layer.bias.data.copy(), "curve": curve, "steps": len(curve)}


def fit_lbfgs(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """The minimiser of the same objective by scipy's L-BFGS with the exact gradient, to tight tolerances."""
    d = x.shape[1]

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, (gw, gb) = objective(theta[: CLASSES * d].reshape(CLASSES, d), theta[CLASSES * d :], x, y, lam)
        return value, np.concatenate([gw.ravel(), gb])

    options = {"maxiter": 20_000, "gtol": 1e-10, "ftol": 1e-15}
    theta = minimize(fun, np.zeros(CLASSES * (d + 1)), jac=True, method="L-BFGS-B", options=options).x
    return theta[: CLASSES * d].reshape(CLASSES, d), theta[CLASSES * d :]


def fit_sklearn(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray] | None:
    """scikit-learn's multinomial LogisticRegression with C = 1 / (n lam), or None when it is not installed."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None
    model = LogisticRegression(C=1 / (len(x) * lam), tol=1e-10, max_iter=20_000).fit(x, y)
    return model.coef_, model.intercept_


def save_figure(curve: list[float], best: float, templates: dict[str, np.ndarray], path: Path) -> str | None:
    """The objective gap per step (log scale), and each solution's 10 class templates (rows of W as images)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib is not installed (pip install 'dagrad[viz]'): no figure written")
        return None
    fig = Figure(figsize=(12, 3 + 1.3 * len(templates)), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.2, 1.3 * len(templates) / 2])
    ax = top.subplots()
    ax.semilogy(np.arange(1, len(curve) + 1), np.maximum(np.array(curve) - best, 1e-16))
    ax.set_xlabel("full-batch step")
    ax.set_ylabel("f - f(L-BFGS)")
    ax.set_title("dagrad nn.Linear + cross-entropy: objective gap to scipy's L-BFGS optimum")
    ax.grid(True, which="both", alpha=0.3)
    axes = bottom.subplots(len(templates), CLASSES, squeeze=False)
    for row, (name, w) in zip(axes, templates.items()):
        side = int(round(np.sqrt(w.shape[1])))
        lim = np.abs(w).max()
        for c, a in enumerate(row):
            a.imshow(w[c].reshape(side, side), cmap="RdBu_r", vmin=-lim, vmax=lim)
            a.set_xticks([])
            a.set_yticks([])
            if row is axes[0]:
                a.set_title(EmbeddedFashionMNIST.classes[c], fontsize=8)
        row[0].set_ylabel(name, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return str(path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="training images (the test split gives as many)")
    parser.add_argument("--pool", type=int, default=2, help="average pool x pool pixel blocks (1: 784 features)")
    parser.add_argument("--lam", type=float, default=1e-2, help="L2 strength lam on W (weight_decay)")
    parser.add_argument("--optimizer", choices=("adam", "nesterov"), default="adam")
    parser.add_argument("--steps", type=int, default=1500, help="most full-batch steps")
    parser.add_argument("--lr", type=float, default=0.03, help="Adam's initial step (nesterov uses 1 / L)")
    parser.add_argument("--tol", type=float, default=1e-6, help="stop when the gradient norm is below this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("examples/out"), help="directory for the figure")
    return parser.parse_args(argv)


def compare(name: str, w: np.ndarray, b: np.ndarray, ref: tuple, data: dict, lam: float) -> dict:
    """One solution against the L-BFGS one: objective gap, gradient norm, weight distance, prediction agreement."""
    x, y = data["train"]
    value, (gw, gb) = objective(w, b, x, y, lam)
    best = objective(*ref, x, y, lam)[0]
    row = {
        "name": name, "objective": value, "gap": value - best,
        "grad_norm": float(np.sqrt(np.sum(gw**2) + np.sum(gb**2))),
        "weight_rel_diff": float(np.linalg.norm(w - ref[0]) / np.linalg.norm(ref[0])),
    }  # fmt: skip
    for split, (xs, ys) in data.items():
        pred, pred_ref = np.argmax(xs @ w.T + b, 1), np.argmax(xs @ ref[0].T + ref[1], 1)
        row[f"agree_{split}"] = float(np.mean(pred == pred_ref))
        row[f"accuracy_{split}"] = float(np.mean(pred == ys))
    return row


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    data = {"train": load(True, args.n, args.pool), "test": load(False, args.n, args.pool)}
    x, y = data["train"]
    dg.manual_seed(args.seed)
    start = time.perf_counter()
    run = train_dagrad(x, y, args.lam, args.optimizer, args.steps, args.lr, args.tol)
    seconds = time.perf_counter() - start
    ref = fit_lbfgs(x, y, args.lam)
    rows = [compare(f"dagrad {args.optimizer}", run["W"], run["b"], ref, data, args.lam)]
    rows.append(compare("scipy L-BFGS", *ref, ref, data, args.lam))
    sk = fit_sklearn(x, y, args.lam)
    if sk is not None:
        rows.append(compare("scikit-learn", *sk, ref, data, args.lam))
    print(f"n = {len(x)}, {x.shape[1]} features, lam = {args.lam:g} (scikit-learn C = 1/(n lam) = "
          f"{1 / (len(x) * args.lam):.4g}); dagrad: {run['steps']} steps in {seconds:.1f} s")  # fmt: skip
    print(f"{'solution':>16} {'objective':>12} {'gap':>10} {'|grad|':>9} {'|dW|/|W|':>9} "
          f"{'agree train':>11} {'agree test':>10} {'acc train':>9} {'acc test':>8}")  # fmt: skip
    for r in rows:
        print(
            f"{r['name']:>16} {r['objective']:>12.8f} {r['gap']:>10.2e} {r['grad_norm']:>9.2e} "
            f"{r['weight_rel_diff']:>9.2e} {r['agree_train']:>11.4f} {r['agree_test']:>10.4f} "
            f"{r['accuracy_train']:>9.4f} {r['accuracy_test']:>8.4f}"
        )
    templates = {"dagrad": run["W"], "L-BFGS": ref[0]}
    figure = save_figure(run["curve"], rows[1]["objective"], templates, args.out / "logistic_regression.png")
    if figure is not None:
        print(f"figure: {figure}")
    return {"rows": {r["name"]: r for r in rows}, "dagrad": rows[0], "steps": run["steps"], "figure": figure}


if __name__ == "__main__":
    main()
