"""Training: float parent (seeded, cosine schedule, optional BN-L1 "network slimming"), QAT
fine-tune with knowledge distillation and early stopping, top-1 evaluation, and an on-disk cache
of trained parents.

Example:
    >>> from hwprune.data import load_dataset
    >>> from hwprune.models import build_model, get_spec
    >>> data = load_dataset("digits")
    >>> model = build_model(get_spec("mlp-digits"))
    >>> hist = train_float(model, data, epochs=2, seed=0)
    >>> len(hist.epochs), 0.0 <= evaluate(model, data.val) <= 1.0
    (2, True)
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from hwprune.data.base import DatasetSplits, Split
from hwprune.errors import ConfigError, StorageError

log = logging.getLogger(__name__)

#: bump when the training code changes in a way that invalidates cached parents
CACHE_FORMAT = 1

EpochCallback = Callable[[int, float], "bool | None"]


@dataclass(frozen=True)
class EpochStats:
    """One epoch: mean training loss, validation top-1 and the learning rate used."""

    epoch: int
    loss: float
    val_acc: float
    lr: float


@dataclass(frozen=True)
class History:
    """What a training run did.

    ``best_epoch``/``best_val_acc`` refer to the epoch whose weights the model holds at the end
    for :func:`finetune_qat` (best validation); for :func:`train_float` the model keeps the last
    epoch's weights.
    """

    epochs: tuple[EpochStats, ...]
    best_epoch: int
    best_val_acc: float
    stopped_early: bool
    wall_s: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return asdict(self)


def evaluate(
    model: nn.Module, split: Split, batch_size: int = 1024, device: str | torch.device | None = None
) -> float:
    """Top-1 accuracy (fraction in [0, 1]) of ``model`` on ``split``, in eval mode.

    The model runs on ``device`` (default: the device of its parameters); its train/eval mode
    and its device are restored afterwards.

    Example:
        >>> import torch
        >>> from hwprune.data.base import Split
        >>> m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
        >>> 0.0 <= evaluate(m, Split(torch.rand(5, 1, 2, 2), torch.zeros(5, dtype=torch.long))) <= 1
        True
    """
    n = len(split)
    if n == 0:
        return 0.0
    home = _model_device(model)
    dev = torch.device(device) if device is not None else home
    was_training = model.training
    model.to(dev).eval()
    correct = 0
    try:
        with torch.no_grad():
            for i in range(0, n, batch_size):
                out = model(split.x[i : i + batch_size].to(dev))
                correct += int((out.argmax(dim=1).cpu() == split.y[i : i + batch_size]).sum())
    finally:
        model.to(home).train(was_training)
    return correct / n


def _model_device(model: nn.Module) -> torch.device:
    """Device of the model's first parameter (CPU for a model without parameters)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _make_optimizer(
    params: Any, optimizer: str, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay
        )
    raise ConfigError(f"unknown optimizer '{optimizer}'; use 'adam' or 'sgd'")


def _cosine_lr(base: float, step: int, total: int) -> float:
    return 0.5 * base * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))


def _bn_l1(model: nn.Module) -> torch.Tensor:
    terms = [
        m.weight.abs().sum()
        for m in model.modules()
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.weight is not None
    ]
    return torch.stack(terms).sum() if terms else torch.zeros(())


def _check_common(epochs: int, lr: float, batch_size: int) -> None:
    if epochs < 0:
        raise ConfigError(f"epochs must be >= 0, got {epochs}")
    if lr <= 0:
        raise ConfigError(f"learning rate must be > 0, got {lr}")
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")


def _run_epochs(
    model: nn.Module,
    data: DatasetSplits,
    epochs: int,
    seed: int,
    lr: float,
    optimizer: str,
    batch_size: int,
    weight_decay: float,
    loss_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    keep_best: bool,
    patience: int | None,
    on_epoch: EpochCallback | None,
    device: str | torch.device | None = None,
) -> History:
    """Shared loop: seeded shuffling, per-step cosine LR, per-epoch validation.

    With ``device`` the model trains there (batches are moved per step) and is moved back to the
    CPU at the end, so callers always get a CPU model (for export and checkpoints).
    """
    _check_common(epochs, lr, batch_size)
    dev = torch.device(device) if device is not None else None
    if dev is not None:
        model.to(dev)
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = _make_optimizer(
        [p for p in model.parameters() if p.requires_grad], optimizer, lr, weight_decay
    )
    x, y = data.train.x, data.train.y
    n = len(y)
    if n == 0:
        raise ConfigError(f"dataset '{data.name}' has an empty training split")
    # drop a last batch of 1 sample (BatchNorm cannot train on it)
    steps_per_epoch = max(1, n // batch_size + (1 if n % batch_size > 1 else 0))
    total = steps_per_epoch * epochs
    stats: list[EpochStats] = []
    best_acc, best_epoch, best_state = -1.0, -1, None
    stopped, since_best, step = False, 0, 0
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        loss_sum, seen = 0.0, 0
        for b in range(steps_per_epoch):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            if len(idx) < 2:
                continue
            lr_now = _cosine_lr(lr, step, total)
            for group in opt.param_groups:
                group["lr"] = lr_now
            xb, yb = x[idx], y[idx]
            if dev is not None:
                xb, yb = xb.to(dev), yb.to(dev)
            logits = model(xb)
            loss = loss_fn(logits, yb, xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_sum += float(loss.detach()) * len(idx)
            seen += len(idx)
        val_acc = evaluate(model, data.val, device=dev)
        stats.append(
            EpochStats(epoch, loss_sum / max(seen, 1), val_acc, _cosine_lr(lr, step - 1, total))
        )
        log.debug("epoch %d loss %.4f val %.4f", epoch, stats[-1].loss, val_acc)
        if val_acc > best_acc:
            best_acc, best_epoch, since_best = val_acc, epoch, 0
            if keep_best:
                best_state = copy.deepcopy(model.state_dict())
        else:
            since_best += 1
        if on_epoch is not None and on_epoch(epoch, val_acc) is False:
            stopped = epoch < epochs - 1
            break
        if patience is not None and since_best >= patience:
            stopped = epoch < epochs - 1
            break
    if keep_best and best_state is not None:
        model.load_state_dict(best_state)
    if dev is not None:
        model.to("cpu")
    model.eval()
    if not keep_best and stats:
        best_epoch, best_acc = stats[-1].epoch, stats[-1].val_acc
    return History(tuple(stats), best_epoch, max(best_acc, 0.0), stopped, time.perf_counter() - t0)


def train_float(
    model: nn.Module,
    data: DatasetSplits,
    epochs: int,
    seed: int = 0,
    lr: float = 1e-2,
    optimizer: Literal["adam", "sgd"] = "adam",
    bn_l1: float = 0.0,
    batch_size: int = 128,
    weight_decay: float = 0.0,
    device: str | torch.device | None = None,
) -> History:
    """Train ``model`` in place with cross-entropy (+ ``bn_l1`` * sum |BN gamma|).

    Cosine learning-rate schedule per step from ``lr`` to 0 and shuffling seeded by ``seed``:
    the same initial weights and seed give bit-identical weights on CPU. The model keeps the
    last epoch's weights and is left in eval mode.

    Example:
        >>> from hwprune.data import load_dataset
        >>> from hwprune.models import build_model, get_spec
        >>> m = build_model(get_spec("mlp-digits"))
        >>> train_float(m, load_dataset("digits"), epochs=1, bn_l1=1e-4).epochs[0].epoch
        0
    """
    if bn_l1 < 0:
        raise ConfigError(f"bn_l1 must be >= 0, got {bn_l1}")

    def loss_fn(logits: torch.Tensor, y: torch.Tensor, _x: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(logits, y)
        return loss + bn_l1 * _bn_l1(model) if bn_l1 > 0 else loss

    return _run_epochs(
        model,
        data,
        epochs,
        seed,
        lr,
        optimizer,
        batch_size,
        weight_decay,
        loss_fn,
        keep_best=False,
        patience=None,
        on_epoch=None,
        device=device,
    )


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    y: torch.Tensor,
    alpha: float,
    temperature: float,
) -> torch.Tensor:
    """Hinton distillation: ``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE``.

    Example:
        >>> import torch
        >>> z = torch.randn(4, 10)
        >>> float(kd_loss(z, z, torch.zeros(4, dtype=torch.long), 1.0, 4.0))
        0.0
    """
    ce = F.cross_entropy(student_logits, y) if alpha < 1 else student_logits.new_zeros(())
    if alpha <= 0:
        return ce
    t = temperature
    kl = F.kl_div(
        F.log_softmax(student_logits / t, dim=1),
        F.log_softmax(teacher_logits / t, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return alpha * t * t * kl + (1 - alpha) * ce


def finetune_qat(
    qmodel: nn.Module,
    teacher: nn.Module | None,
    data: DatasetSplits,
    epochs: int,
    kd_alpha: float = 0.5,
    kd_temperature: float = 4.0,
    patience: int | None = None,
    on_epoch: EpochCallback | None = None,
    seed: int = 0,
    lr: float = 2e-3,
    optimizer: Literal["adam", "sgd"] = "adam",
    batch_size: int = 128,
    calibrate_first: bool = True,
    device: str | torch.device | None = None,
) -> History:
    """Quantization-aware fine-tune of ``qmodel`` with distillation from ``teacher``.

    Loss: :func:`kd_loss` with ``kd_alpha``/``kd_temperature`` (plain cross-entropy when
    ``teacher`` is None or ``kd_alpha`` is 0). After every epoch the validation top-1 is
    measured and passed to ``on_epoch(epoch, val_acc)``; returning ``False`` stops training
    (the search's own early stopping). ``patience`` stops after that many epochs without a new
    best. At the end the best-validation weights are restored and the model is in eval mode.
    With ``calibrate_first`` the activation scales are first initialised from float statistics
    of a few training batches (:func:`hwprune.compress.quant.calibrate`). With ``device``
    (e.g. ``"cuda:1"``) student and teacher train there; both are back on the CPU afterwards.

    Example:
        >>> from hwprune.compress.quant import to_brevitas
        >>> from hwprune.data import load_dataset
        >>> from hwprune.models import build_model, get_spec
        >>> data = load_dataset("digits")
        >>> parent = build_model(get_spec("mlp-digits"))
        >>> _ = train_float(parent, data, epochs=1)
        >>> q = to_brevitas(parent, [4] * 4, [4, 4, 4, None], data.input_scale)
        >>> h = finetune_qat(q, parent, data, epochs=2, on_epoch=lambda e, acc: e < 0)
        >>> len(h.epochs), h.stopped_early
        (1, True)
    """
    if not 0 <= kd_alpha <= 1:
        raise ConfigError(f"kd_alpha must be in [0, 1], got {kd_alpha}")
    if kd_temperature <= 0:
        raise ConfigError(f"kd_temperature must be > 0, got {kd_temperature}")
    if patience is not None and patience < 1:
        raise ConfigError(f"patience must be >= 1, got {patience}")
    if calibrate_first and len(data.train) > 0:
        from hwprune.compress.quant import calibrate

        calibrate(qmodel, data.train.x, batch_size=256, max_batches=4)
    alpha = kd_alpha if teacher is not None else 0.0
    if teacher is not None:
        teacher = teacher.eval()
        if device is not None:
            teacher.to(device)

    def loss_fn(logits: torch.Tensor, y: torch.Tensor, xb: torch.Tensor) -> torch.Tensor:
        if alpha <= 0:
            return F.cross_entropy(logits, y)
        with torch.no_grad():
            t_logits = teacher(xb)  # type: ignore[misc]
        return kd_loss(logits, t_logits, y, alpha, kd_temperature)

    try:
        return _run_epochs(
            qmodel,
            data,
            epochs,
            seed,
            lr,
            optimizer,
            batch_size,
            0.0,
            loss_fn,
            keep_best=True,
            patience=patience,
            on_epoch=on_epoch,
            device=device,
        )
    finally:
        if teacher is not None and device is not None:
            teacher.to("cpu")


# -- parent cache ------------------------------------------------------------------------------


def _data_fingerprint(data: DatasetSplits) -> dict[str, Any]:
    h = hashlib.sha256()
    for split in (data.train, data.val, data.test):
        h.update(split.y.numpy().tobytes())
        h.update(split.x[: min(len(split), 64)].numpy().tobytes())
    return {
        "name": data.name,
        "sizes": [len(data.train), len(data.val), len(data.test)],
        "shape": list(data.input_shape),
        "digest": h.hexdigest()[:16],
    }


def _model_identity(spec_or_model: Any) -> tuple[dict[str, Any], Callable[[], nn.Module]]:
    from hwprune.models import ModelSpec, build_model

    if isinstance(spec_or_model, ModelSpec):
        spec = spec_or_model
        return {"spec": spec.to_dict()}, lambda: build_model(spec)
    if isinstance(spec_or_model, nn.Module):
        template = spec_or_model
        h = hashlib.sha256()
        for k, v in template.state_dict().items():
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        ident = {
            "module": f"{type(template).__module__}.{type(template).__qualname__}",
            "structure": repr(template),
            "init": h.hexdigest()[:16],
        }
        return ident, lambda: copy.deepcopy(template)
    raise ConfigError("train_parent needs a ModelSpec or an nn.Module")


def parent_cache_key(
    spec_or_model: Any, data: DatasetSplits, seed: int, epochs: int, **hparams: Any
) -> str:
    """Hash key of a parent training run (model, dataset and split, seed, epochs, hparams).

    Example:
        >>> from hwprune.data import load_dataset
        >>> from hwprune.models import get_spec
        >>> d = load_dataset("digits")
        >>> k = parent_cache_key(get_spec("mlp-digits"), d, 0, 10, lr=0.01)
        >>> k == parent_cache_key(get_spec("mlp-digits"), d, 1, 10, lr=0.01)
        False
    """
    ident, _ = _model_identity(spec_or_model)
    payload = {
        "format": CACHE_FORMAT,
        "model": ident,
        "data": _data_fingerprint(data),
        "seed": int(seed),
        "epochs": int(epochs),
        "hparams": hparams,
        "torch": torch.__version__.split("+")[0],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def train_parent(
    spec: Any,
    data: DatasetSplits,
    seed: int,
    epochs: int,
    cache_dir: str | Path | None,
    lr: float = 1e-2,
    optimizer: Literal["adam", "sgd"] = "adam",
    bn_l1: float = 0.0,
    batch_size: int = 128,
    weight_decay: float = 0.0,
) -> nn.Module:
    """Float parent for ``spec`` (a ModelSpec, or a user nn.Module used as the initial weights),
    trained with :func:`train_float` or loaded from ``cache_dir``.

    The cache file ``parent-<key>.pt`` is keyed by :func:`parent_cache_key` and written
    atomically (temporary file + ``os.replace``), so concurrent workers never read half a file.
    The returned model is in eval mode and has ``model.history`` (a :class:`History` as a dict)
    and ``model.cache_hit`` attributes. ``cache_dir=None`` disables the cache.

    Example:
        >>> import tempfile
        >>> from hwprune.data import load_dataset
        >>> from hwprune.models import get_spec
        >>> d = load_dataset("digits")
        >>> tmp = tempfile.mkdtemp()
        >>> a = train_parent(get_spec("mlp-digits"), d, seed=0, epochs=1, cache_dir=tmp)
        >>> b = train_parent(get_spec("mlp-digits"), d, seed=0, epochs=1, cache_dir=tmp)
        >>> a.cache_hit, b.cache_hit
        (False, True)
    """
    ident, make = _model_identity(spec)
    hparams = {
        "lr": lr,
        "optimizer": optimizer,
        "bn_l1": bn_l1,
        "batch_size": batch_size,
        "weight_decay": weight_decay,
    }
    key = parent_cache_key(spec, data, seed, epochs, **hparams)
    model = make()
    path = Path(cache_dir) / f"parent-{key}.pt" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            from hwprune.safeload import load_torch_dict

            blob = load_torch_dict(path, "cached parent")
            model.load_state_dict(blob["state_dict"])
            model.eval()
            model.history = blob.get("history", {})
            model.cache_hit = True
            log.info("reusing cached parent %s", path)
            return model
        except Exception as exc:  # noqa: BLE001 - a bad cache file is retrained, not fatal
            log.warning("ignoring unreadable cached parent %s (%s); retraining", path, exc)
    torch.manual_seed(seed)
    model = make()  # re-create after seeding so the initialisation is seeded too
    hist = train_float(
        model,
        data,
        epochs,
        seed=seed,
        lr=lr,
        optimizer=optimizer,
        bn_l1=bn_l1,
        batch_size=batch_size,
        weight_decay=weight_decay,
    )
    model.history = hist.to_dict()
    model.cache_hit = False
    if path is not None:
        _atomic_save(
            {
                "state_dict": model.state_dict(),
                "history": hist.to_dict(),
                "key": key,
                "model": json.dumps(ident, sort_keys=True),
            },
            path,
        )
    return model


def _atomic_save(obj: Any, path: Path) -> None:
    from hwprune.atomic import atomic_torch_save  # its .tmp- names are cleaned after a crash

    try:
        atomic_torch_save(obj, path)
    except OSError as exc:
        raise StorageError(
            f"cannot write the parent cache '{path}' ({exc.strerror}); choose a writable cache "
            "directory"
        ) from exc
