"""Benchmark: float parent + QAT-with-KD accuracy and wall time on digits (and Fashion-MNIST).

For each case it trains the float parent (seeded, cosine schedule), builds the Brevitas model at
the given bits, fine-tunes it with knowledge distillation from the parent (best-validation
weights kept) and reports test top-1 of both and the wall time of each phase. Fashion-MNIST runs
when its IDX files are present (``/usr/share/datasets/fashion-mnist`` or ``--fashion-dir``);
otherwise it is skipped with a note.

Run:  python bench/train_digits.py            (writes bench/results/train_digits.{json,md})
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hwprune.compress.quant import to_brevitas  # noqa: E402
from hwprune.compress.train import evaluate, finetune_qat, train_float  # noqa: E402
from hwprune.data import load_dataset  # noqa: E402
from hwprune.errors import HwpruneError  # noqa: E402
from hwprune.models import build_model, get_spec  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Case:
    dataset: str
    model: str
    wbits: int
    abits: int
    seed: int
    parent_epochs: int
    qat_epochs: int
    batch_size: int = 128


@dataclass(frozen=True)
class Row:
    dataset: str
    model: str
    bits: str
    seed: int
    parent_epochs: int
    qat_epochs_run: int
    parent_test_acc: float
    qat_test_acc: float
    parent_s: float
    qat_s: float
    total_s: float


def run_case(case: Case, data) -> Row:  # noqa: ANN001
    t0 = time.perf_counter()
    torch.manual_seed(case.seed)
    spec = get_spec(case.model, input_shape=data.input_shape, num_classes=data.num_classes)
    parent = build_model(spec)
    train_float(parent, data, epochs=case.parent_epochs, seed=case.seed, batch_size=case.batch_size)
    t1 = time.perf_counter()
    n = spec.num_quant_layers
    q = to_brevitas(parent, [case.wbits] * n, [case.abits] * (n - 1) + [None], data.input_scale)
    hist = finetune_qat(
        q,
        parent,
        data,
        epochs=case.qat_epochs,
        kd_alpha=0.5,
        kd_temperature=4.0,
        patience=4,
        seed=case.seed,
        batch_size=case.batch_size,
    )
    t2 = time.perf_counter()
    return Row(
        case.dataset,
        case.model,
        f"W{case.wbits}A{case.abits}",
        case.seed,
        case.parent_epochs,
        len(hist.epochs),
        round(evaluate(parent, data.test), 4),
        round(evaluate(q, data.test), 4),
        round(t1 - t0, 2),
        round(t2 - t1, 2),
        round(t2 - t0, 2),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fashion-dir", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="digits mlp-digits W4A4 seed 0 only")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)

    digits_cases = [Case("digits", "mlp-digits", 4, 4, s, 30, 10) for s in (0, 1, 2)]
    if not args.quick:
        digits_cases += [
            Case("digits", "mlp-digits", 2, 2, 0, 30, 10),
            Case("digits", "mlp-digits", 1, 1, 0, 30, 10),
            Case("digits", "cnn-digits", 4, 4, 0, 30, 10),
        ]
    fashion_cases = (
        []
        if args.quick
        else [
            Case("fashion-mnist", "tfc", 4, 4, 0, 8, 4, batch_size=256),
        ]
    )
    rows: list[Row] = []
    notes: list[str] = []
    t_load = time.perf_counter()
    digits = load_dataset("digits", seed=0)
    notes.append(f"digits load {time.perf_counter() - t_load:.2f} s")
    for case in digits_cases:
        rows.append(run_case(case, digits))
        print(rows[-1], flush=True)
    if fashion_cases:
        try:
            t_load = time.perf_counter()
            fashion = load_dataset("fashion-mnist", data_dir=args.fashion_dir, seed=0)
            notes.append(
                f"fashion-mnist load {time.perf_counter() - t_load:.2f} s "
                f"({len(fashion.train)} train / {len(fashion.val)} val / "
                f"{len(fashion.test)} test)"
            )
            for case in fashion_cases:
                rows.append(run_case(case, fashion))
                print(rows[-1], flush=True)
        except HwpruneError as exc:
            notes.append(f"fashion-mnist skipped: {exc}")
            print(notes[-1])

    meta = {
        "date": "2026-11-22",
        "machine": "2-core x86_64 CPU, 24 GiB, shared with other jobs at the time",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": args.threads,
        "kd": {"alpha": 0.5, "temperature": 4.0, "patience": 4},
        "optimizer": "adam, lr 1e-2 (float) / 2e-3 (QAT), cosine schedule",
        "notes": notes,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train_digits.json").write_text(
        json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2) + "\n"
    )
    lines = [
        "# train_digits: float parent and QAT + KD (bench/train_digits.py)",
        "",
        f"Date {meta['date']}; machine: {meta['machine']}; torch {meta['torch']}, "
        f"{args.threads} thread(s). KD alpha 0.5, T 4, patience 4; {meta['optimizer']}.",
        "",
        "| dataset | model | bits | seed | parent ep | QAT ep run | parent test | QAT test "
        "| parent s | QAT s | total s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.dataset} | {r.model} | {r.bits} | {r.seed} | {r.parent_epochs} | "
            f"{r.qat_epochs_run} | {r.parent_test_acc:.4f} | {r.qat_test_acc:.4f} | "
            f"{r.parent_s} | {r.qat_s} | {r.total_s} |"
        )
    lines += ["", *[f"- {n}" for n in notes], ""]
    (RESULTS / "train_digits.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
