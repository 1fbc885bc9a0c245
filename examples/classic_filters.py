"""Classic image filters are convolutions with fixed kernels: box and Gaussian blur, Sobel and [1, -1] edges.

A convolutional layer's kernel is learned, but the operation is the one image processing has always used: a
3x3 box filter averages each pixel with its neighbours (blur), a Gaussian kernel does it with smooth weights,
the Sobel kernels take a smoothed derivative across columns (x: vertical edges) or rows (y: horizontal
edges), and [1, -1] is the plainest finite difference. The script applies each kernel to Fashion-MNIST images
(the subset shipped with dagrad) with dagrad.nn.functional.conv2d, which, like torch's, computes a
cross-correlation (the kernel is not flipped). It checks every result against scipy.signal.correlate2d with
mode='same' and zero fill: conv2d gets the same zero padding (asymmetric for the even-sized [1, -1] kernels:
(k - 1) // 2 before, k // 2 after, as scipy centres them), so the output keeps the image's size, and the table
reports the largest absolute difference. The figure shows each image and its filtered versions.

    python3 examples/classic_filters.py [--images 3] [--sigma 1.0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import dagrad as dg
import dagrad.nn.functional as F
from dagrad.data.datasets import EmbeddedFashionMNIST


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A (2r+1, 2r+1) Gaussian kernel, r = ceil(2 sigma), normalised to sum 1."""
    r = max(1, int(np.ceil(2 * sigma)))
    t = np.arange(-r, r + 1)
    g = np.exp(-(t**2) / (2 * sigma**2))
    return np.outer(g, g) / np.outer(g, g).sum()


def kernels(sigma: float) -> dict[str, np.ndarray]:
    """The named 2-D kernels (float32), as cross-correlation weights."""
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    found = {
        "box 3x3": np.full((3, 3), 1 / 9),
        f"gaussian s={sigma:g}": gaussian_kernel(sigma),
        "sobel x": sobel_x,
        "sobel y": sobel_x.T,
        "[1, -1] x": np.array([[1, -1]]),
        "[1, -1] y": np.array([[1], [-1]]),
    }
    return {name: k.astype(np.float32) for name, k in found.items()}


def filter_same(images: dg.Tensor, kernel: np.ndarray) -> dg.Tensor:
    """(N, 1, H, W) images cross-correlated with a (kh, kw) kernel, zero padded to keep (H, W) as scipy's 'same'."""
    kh, kw = kernel.shape
    padded = F.pad(images, ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2))
    return F.conv2d(padded, dg.tensor(kernel).reshape(1, 1, kh, kw))


def reference(images: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The same filtering by scipy.signal.correlate2d, one image at a time (float64)."""
    from scipy.signal import correlate2d

    k = kernel.astype(np.float64)
    return np.stack([correlate2d(im, k, mode="same", boundary="fill") for im in images.astype(np.float64)])


def save_figure(images: np.ndarray, filtered: dict[str, np.ndarray], path: Path) -> str | None:
    """One row per image: the image, then each filtered version in grey scale (signed ones centred on grey)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib is not installed (pip install 'dagrad[viz]'): no figure written")
        return None
    rows, cols = len(images), len(filtered) + 1
    fig = Figure(figsize=(1.8 * cols, 1.9 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for i in range(rows):
        panels = [("image", images[i])] + [(name, out[i]) for name, out in filtered.items()]
        for ax, (name, picture) in zip(axes[i], panels):
            lim = np.abs(picture).max()
            signed = {"vmin": -lim, "vmax": lim} if picture.min() < 0 else {}
            ax.imshow(picture, cmap="gray", **signed)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return str(path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=3, help="Fashion-MNIST test images to filter")
    parser.add_argument("--sigma", type=float, default=1.0, help="standard deviation of the Gaussian blur")
    parser.add_argument("--out", type=Path, default=Path("examples/out"), help="directory for the figure")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    images = EmbeddedFashionMNIST(train=False).data[: args.images].astype(np.float32) / 255
    batch = dg.tensor(images).unsqueeze(1)
    filtered, diffs = {}, {}
    print(f"{'filter':>14} {'kernel':>7} {'output':>9} {'max |conv2d - scipy|':>21}")
    for name, kernel in kernels(args.sigma).items():
        out = filter_same(batch, kernel).numpy()[:, 0]
        filtered[name] = out
        diffs[name] = float(np.abs(out - reference(images, kernel)).max())
        size, shape = "x".join(map(str, kernel.shape)), "x".join(map(str, out.shape[1:]))
        print(f"{name:>14} {size:>7} {shape:>9} {diffs[name]:>21.2e}")
    figure = save_figure(images, filtered, args.out / "classic_filters.png")
    if figure is not None:
        print(f"figure: {figure}")
    shapes = {name: out.shape for name, out in filtered.items()}
    return {"max_abs_diff": diffs, "shapes": shapes, "image_shape": images.shape, "figure": figure}


if __name__ == "__main__":
    main()
