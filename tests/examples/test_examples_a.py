"""The lecture-note examples (vanishing_gradients, forward_vs_reverse, classic_filters, logistic_regression) run
end to end at tiny sizes and show what they claim."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def run(name, args, out):
    """examples/<name>.py's main(args + ['--out', out]) (the script is loaded by path: examples/ is no package)."""
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main([*args, "--out", str(out)])
    figure = out / f"{name}.png"
    if HAS_MATPLOTLIB:
        assert result["figure"] == str(figure) and figure.stat().st_size > 1000
    else:
        assert result["figure"] is None and not figure.exists()
    return result


def test_vanishing_gradients_obey_the_chain_bound_and_sigmoid_vanishes(tmp_path, capsys):
    args = ["--chain-length", "12", "--depth", "8", "--width", "16", "--batch", "32"]
    result = run("vanishing_gradients", args, tmp_path)
    chain = result["chain"]
    ratio = np.array(chain["ratio"])
    assert len(ratio) == 12 and np.all(ratio <= 1) and np.all(ratio > 0.1)  # the bound holds and is nearly tight
    measured = np.array(chain["measured"])
    assert np.all(measured[2:] / measured[1:-1] > 7)  # each layer back multiplies by about (at most) 1/8
    mlp = result["mlp"]
    assert len(mlp) == 9 and all(len(v["norms"]) == 8 for v in mlp.values())
    for init in ("uniform", "xavier", "he"):
        assert mlp[f"sigmoid/{init}"]["ratio"] < 1e-2 * mlp[f"relu/{init}"]["ratio"]
    assert mlp["sigmoid/uniform"]["ratio"] < 1e-3
    assert 0.1 < mlp["relu/he"]["ratio"] < 100
    assert mlp["relu/he"]["first"] > 100 * mlp["relu/uniform"]["first"]  # a too-small init starves every layer
    assert "first layer / last layer" in capsys.readouterr().out


def test_forward_vs_reverse_jacobians_agree_and_the_cheaper_mode_has_fewer_passes(tmp_path):
    args = ["--sizes", "2", "128", "--hidden", "256", "--layers", "2", "--repeats", "5"]
    result = run("forward_vs_reverse", args, tmp_path)
    rows = {(r["d"], r["K"]): r for r in result["rows"]}
    assert set(rows) == {(2, 2), (2, 128), (128, 2), (128, 128)}
    assert result["max_abs_diff"] < 1e-10
    assert rows[(2, 128)]["shape"] == (128, 2)
    assert (rows[(2, 128)]["fwd_passes"], rows[(2, 128)]["rev_passes"]) == (2, 128)
    assert (rows[(128, 2)]["fwd_passes"], rows[(128, 2)]["rev_passes"]) == (128, 2)
    assert all(r["rev_over_fwd"] > 0 for r in rows.values())  # timings are reported (never asserted: noisy)


def test_classic_filters_equal_scipy_correlate2d(tmp_path):
    pytest.importorskip("scipy")
    result = run("classic_filters", ["--images", "2", "--sigma", "0.8"], tmp_path)
    diffs = result["max_abs_diff"]
    assert set(diffs) == {"box 3x3", "gaussian s=0.8", "sobel x", "sobel y", "[1, -1] x", "[1, -1] y"}
    assert all(d < 1e-5 for d in diffs.values())
    assert all(shape == (2, 28, 28) for shape in result["shapes"].values())  # 'same': the size is kept


def test_logistic_regression_reaches_the_lbfgs_optimum(tmp_path):
    pytest.importorskip("scipy")
    args = ["--n", "200", "--pool", "4", "--lam", "0.05", "--steps", "400", "--tol", "1e-5"]
    result = run("logistic_regression", args, tmp_path)
    dagrad = result["dagrad"]
    assert result["steps"] < 400  # stopped on the gradient-norm tolerance
    assert dagrad["grad_norm"] < 1e-5
    assert -1e-12 < dagrad["gap"] < 1e-8  # the L-BFGS optimum is the minimum
    assert dagrad["weight_rel_diff"] < 1e-3
    assert dagrad["agree_train"] == 1.0 and dagrad["agree_test"] > 0.98
    assert dagrad["accuracy_test"] > 0.5  # ten classes: chance is 0.1


def test_logistic_regression_by_nesterov_gradient_descent(tmp_path):
    pytest.importorskip("scipy")
    args = ["--n", "200", "--pool", "4", "--lam", "0.05", "--optimizer", "nesterov", "--steps", "300"]
    dagrad = run("logistic_regression", args, tmp_path)["dagrad"]
    assert dagrad["name"] == "dagrad nesterov"
    assert -1e-12 < dagrad["gap"] < 1e-5 and dagrad["agree_train"] > 0.99
