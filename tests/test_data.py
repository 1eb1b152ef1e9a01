"""Dataset loaders: IDX / pickle readers on generated files, real digits / MNIST subset /
Fashion-MNIST (when installed), seeded splits, clear errors, checksummed download (no network)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from hwprune.data import available_datasets, load_dataset, read_idx, write_idx
from hwprune.data import remote as dl
from hwprune.data.cifar import TEST_BATCH, TRAIN_BATCHES, write_batch
from hwprune.data.idx import parse_idx
from hwprune.data.mnist import FASHION_MNIST_DEBIAN_DIR
from hwprune.errors import ConfigError, DataError

STEMS = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


def make_idx_dataset(
    folder: Path, n_train: int = 200, n_test: int = 50, gz: bool = True, seed: int = 1
) -> dict[str, np.ndarray]:
    """Write a small MNIST-format dataset (random pixels, labels 0..9) and return its arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_x": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_y": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_x": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_y": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in STEMS.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])
    return arrays


def make_cifar_batches(folder: Path, per_batch: int = 12, seed: int = 2) -> dict[str, tuple]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in (*TRAIN_BATCHES, TEST_BATCH):
        x = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        y = rng.integers(0, 10, per_batch)
        write_batch(folder / name, x, y)
        out[name] = (x, y)
    return out


def as_pixels(x: torch.Tensor, scale: float = 255.0) -> np.ndarray:
    """Float [0,1] tensor -> exact integer pixels (fails if not exact)."""
    v = x.numpy() * np.float32(scale)
    assert np.array_equal(v, np.round(v)), "pixels are not exact integers after * input_scale"
    return v.astype(np.int64)


# ---------------------------------------------------------------- IDX reader


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, ">i2", ">i4", ">f4", ">f8"])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip(tmp_path: Path, dtype: str, gz: bool) -> None:
    a = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    if np.dtype(dtype) == np.uint8:
        a = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    p = tmp_path / ("a-idx3" + (".gz" if gz else ""))
    write_idx(p, a)
    assert (p.read_bytes()[:2] == b"\x1f\x8b") == gz
    b = read_idx(p)
    assert b.shape == (2, 3, 5)
    np.testing.assert_array_equal(b, a)
    assert b.dtype.isnative


def test_idx_header_bytes_follow_the_format() -> None:
    # 0x00 0x00, type 0x0B (int16), 2 dims: 1 x 2, values 258 and -1 big-endian
    raw = bytes([0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 2, 1, 2, 0xFF, 0xFF])
    np.testing.assert_array_equal(parse_idx(raw), [[258, -1]])


def test_idx_gzip_detected_by_content_not_name(tmp_path: Path) -> None:
    p = tmp_path / "labels-without-gz-suffix"
    p.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 4, 5, 6])))
    assert read_idx(p).tolist() == [4, 5, 6]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not an IDX file"),
        (b"PK\x03\x04garbage", "not an IDX file"),
        (bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 0]), "unknown IDX type code 0x42"),
        (bytes([0, 0, 8, 0]), "0 dimensions"),
        (bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0]), "truncated inside its header"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3]), "truncated"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3]), "1 unexpected bytes"),
    ],
)
def test_idx_corrupt_files_raise_data_error_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    p = tmp_path / "broken-idx1-ubyte"
    p.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        read_idx(p, hint="get it somewhere")
    assert str(p) in str(err.value)
    assert "get it somewhere" in str(err.value)


def test_idx_truncated_gzip(tmp_path: Path) -> None:
    p = tmp_path / "t10k-images-idx3-ubyte.gz"
    write_idx(p, np.zeros((10, 28, 28), np.uint8) + 7)
    p.write_bytes(p.read_bytes()[:-20])
    with pytest.raises(DataError, match="truncated or corrupt gzip") as err:
        read_idx(p)
    assert str(p) in str(err.value)


def test_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_idx(tmp_path / "nope-idx1-ubyte")


# ---------------------------------------------------------------- mnist / fashion-mnist loaders


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_from_generated_idx_files(tmp_path: Path, gz: bool) -> None:
    arrays = make_idx_dataset(tmp_path, gz=gz)
    ds = load_dataset("mnist", data_dir=tmp_path, seed=3)
    assert ds.input_shape == (1, 28, 28) and ds.num_classes == 10 and ds.input_scale == 255.0
    assert (len(ds.train), len(ds.val), len(ds.test)) == (180, 20, 50)
    assert ds.train.x.dtype == torch.float32 and ds.train.y.dtype == torch.int64
    assert ds.train.x.shape == (180, 1, 28, 28)
    # the test split is the test file, in order, pixel-exact
    np.testing.assert_array_equal(as_pixels(ds.test.x)[:, 0], arrays["test_x"])
    np.testing.assert_array_equal(ds.test.y.numpy(), arrays["test_y"])
    # train + val is a permutation of the training file: every (image, label) pair kept
    got = np.concatenate([as_pixels(ds.train.x), as_pixels(ds.val.x)])[:, 0]
    got_y = np.concatenate([ds.train.y.numpy(), ds.val.y.numpy()])
    order = np.lexsort(got.reshape(len(got), -1).T)
    ref_order = np.lexsort(arrays["train_x"].reshape(200, -1).T)
    np.testing.assert_array_equal(got[order], arrays["train_x"][ref_order])
    np.testing.assert_array_equal(got_y[order], arrays["train_y"][ref_order])


@pytest.mark.parametrize("sub", ["fashion-mnist", "FashionMNIST/raw"])
def test_fashion_mnist_subfolder_layouts(tmp_path: Path, sub: str) -> None:
    make_idx_dataset(tmp_path / sub, n_train=40, n_test=10)
    ds = load_dataset("fashion-mnist", data_dir=tmp_path, seed=0)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (36, 4, 10)


def test_mnist_missing_file_names_it_and_how_to_get_it(tmp_path: Path) -> None:
    make_idx_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "t10k-labels-idx1-ubyte") in msg
    assert "hwprune data download mnist --dir" in msg


def test_fashion_mnist_missing_points_to_debian_package(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist") as err:
        load_dataset("fashion-mnist", data_dir=tmp_path / "empty")
    assert "train-images-idx3-ubyte" in str(err.value)
    assert "hwprune data download fashion-mnist" in str(err.value)


def test_mnist_without_data_dir_says_how_to_get_it() -> None:
    with pytest.raises(DataError, match="hwprune data download mnist"):
        load_dataset("mnist")


def test_mnist_corrupt_and_mismatched_files(tmp_path: Path) -> None:
    make_idx_dataset(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    # labels file with fewer labels than images
    write_idx(labels, np.zeros(199, np.uint8))
    with pytest.raises(DataError, match="200 images but .* has 199 labels"):
        load_dataset("mnist", data_dir=tmp_path)
    # a label file in place of the images
    write_idx(labels, np.zeros(200, np.uint8))
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros(200, np.uint8))
    with pytest.raises(DataError, match="not uint8 images"):
        load_dataset("mnist", data_dir=tmp_path)
    # a label out of range
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((200, 28, 28), np.uint8))
    write_idx(labels, np.full(200, 12, np.uint8))
    with pytest.raises(DataError, match="label 12 >= 10"):
        load_dataset("mnist", data_dir=tmp_path)
    # truncated gzip
    write_idx(labels, np.zeros(200, np.uint8))
    img = tmp_path / "t10k-images-idx3-ubyte.gz"
    img.write_bytes(img.read_bytes()[: len(img.read_bytes()) // 2])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz is a truncated"):
        load_dataset("mnist", data_dir=tmp_path)


# ---------------------------------------------------------------- splits


def test_splits_are_deterministic_per_seed(tmp_path: Path) -> None:
    make_idx_dataset(tmp_path)
    a = load_dataset("mnist", data_dir=tmp_path, seed=5)
    b = load_dataset("mnist", data_dir=tmp_path, seed=5)
    c = load_dataset("mnist", data_dir=tmp_path, seed=6)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.val.y, b.val.y)
    assert not torch.equal(a.train.x, c.train.x)
    assert torch.equal(a.test.x, c.test.x)  # the official test set does not depend on the seed


def test_digits_real_and_deterministic() -> None:
    a = load_dataset("digits", seed=0)
    b = load_dataset("digits", seed=0)
    c = load_dataset("digits", seed=1)
    assert len(a.train) + len(a.val) + len(a.test) == 1797
    assert len(a.test) == 359 and a.input_shape == (1, 8, 8) and a.input_scale == 16.0
    assert as_pixels(a.train.x, 16.0).max() == 16
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.train.y, b.train.y)
    assert not torch.equal(a.test.y, c.test.y)
    assert set(a.train.y.tolist()) == set(range(10))


def test_mnist_subset_real() -> None:
    ds = load_dataset("mnist-subset", seed=0)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (3600, 400, 1000)
    assert ds.input_shape == (1, 28, 28) and ds.input_scale == 255.0
    px = as_pixels(ds.train.x)
    assert px.min() == 0 and px.max() == 255
    # real MNIST: a digit's ink sits in the middle, the border is (almost) empty
    assert px[:, 0, 0, :].mean() < 1.0 and px[:, 0, 10:18, 10:18].mean() > 40
    counts = np.bincount(np.concatenate([ds.train.y, ds.val.y, ds.test.y]), minlength=10)
    assert counts.tolist() == [500] * 10
    again = load_dataset("mnist-subset", seed=0)
    assert torch.equal(ds.val.x, again.val.x)


FASHION_PRESENT = (FASHION_MNIST_DEBIAN_DIR / "train-images-idx3-ubyte.gz").is_file()


@pytest.mark.skipif(not FASHION_PRESENT, reason="Debian's dataset-fashion-mnist not installed")
def test_fashion_mnist_real_debian_files() -> None:
    import time

    t0 = time.perf_counter()
    ds = load_dataset("fashion-mnist", seed=0)  # default folder
    elapsed = time.perf_counter() - t0
    assert elapsed < 15.0, f"loading 60k images took {elapsed:.1f} s: a Python loop crept in?"
    assert (len(ds.train), len(ds.val), len(ds.test)) == (54000, 6000, 10000)
    assert ds.input_shape == (1, 28, 28)
    assert np.bincount(ds.test.y.numpy()).tolist() == [1000] * 10
    all_train = np.concatenate([ds.train.y.numpy(), ds.val.y.numpy()])
    assert np.bincount(all_train).tolist() == [6000] * 10
    assert as_pixels(ds.test.x).max() == 255
    # the Debian files are the upstream images: their decompressed bytes match the hashes
    assert all(
        s.startswith("ok") for s in dl.verify("fashion-mnist", FASHION_MNIST_DEBIAN_DIR).values()
    )


# ---------------------------------------------------------------- cifar10


def _check_cifar(ds, batches) -> None:  # type: ignore[no-untyped-def]
    assert ds.input_shape == (3, 32, 32) and ds.num_classes == 10
    assert (len(ds.train), len(ds.val), len(ds.test)) == (54, 6, 12)
    x, y = batches[TEST_BATCH]
    np.testing.assert_array_equal(as_pixels(ds.test.x), x)
    np.testing.assert_array_equal(ds.test.y.numpy(), y)


def test_cifar10_from_generated_batches(tmp_path: Path) -> None:
    batches = make_cifar_batches(tmp_path)
    ds = load_dataset("cifar10", data_dir=tmp_path, seed=0)
    _check_cifar(ds, batches)
    # channel layout: the first 1024 bytes of a row are the red plane, row-major
    raw = pickle.loads((tmp_path / TEST_BATCH).read_bytes(), encoding="bytes")[b"data"]
    np.testing.assert_array_equal(as_pixels(ds.test.x[:, 0]).reshape(12, -1), raw[:, :1024])
    np.testing.assert_array_equal(as_pixels(ds.test.x[3, 2, 1, 5:6]), raw[3, 2048 + 32 + 5])


def test_cifar_batch_pickle_flavours(tmp_path: Path) -> None:
    import pickletools

    from hwprune.data.cifar import read_batch

    x = np.random.default_rng(0).integers(0, 256, (3, 3, 32, 32), dtype=np.uint8)
    write_batch(tmp_path / "b", x, [1, 2, 3])
    raw = (tmp_path / "b").read_bytes()
    ops = {op.name for op, _, _ in pickletools.genops(raw)}
    # same layout as the real (Python 2) batches
    assert raw[:2] == b"\x80\x02" and "BINSTRING" in ops and "BINBYTES" not in ops
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in raw
    # ... and pickles written by Python 3 (protocol 2 and 5) read the same
    d = {"data": x.reshape(3, -1), "labels": np.array([1, 2, 3])}
    for blob in (raw, pickle.dumps(d, protocol=2), pickle.dumps(d, protocol=5)):
        got_x, got_y = read_batch(blob, "b")
        np.testing.assert_array_equal(got_x, x)
        assert got_y.tolist() == [1, 2, 3]


def test_cifar10_from_unpacked_folder_and_from_archive(tmp_path: Path) -> None:
    batches = make_cifar_batches(tmp_path / "a" / "cifar-10-batches-py")
    _check_cifar(load_dataset("cifar10", data_dir=tmp_path / "a"), batches)
    archive = tmp_path / "b" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "a" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    _check_cifar(load_dataset("cifar10", data_dir=tmp_path / "b"), batches)


def test_cifar10_missing_batch(tmp_path: Path) -> None:
    make_cifar_batches(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3 not found") as err:
        load_dataset("cifar10", data_dir=tmp_path)
    assert "hwprune data download cifar10 --dir" in str(err.value)
    with pytest.raises(DataError, match="hwprune data download cifar10"):
        load_dataset("cifar10")


def test_cifar10_corrupt_batches(tmp_path: Path) -> None:
    make_cifar_batches(tmp_path)
    p = tmp_path / "data_batch_2"
    good = p.read_bytes()
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="data_batch_2 is truncated or not a CIFAR pickle"):
        load_dataset("cifar10", data_dir=tmp_path)
    # a pickle that would run code is refused, and the code does not run
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    p.write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2))
    with pytest.raises(DataError, match="refusing to load"):
        load_dataset("cifar10", data_dir=tmp_path)
    assert not marker.exists()
    # right container, wrong content
    p.write_bytes(pickle.dumps({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}))
    with pytest.raises(DataError, match=r"expected uint8 \(N, 3072\)"):
        load_dataset("cifar10", data_dir=tmp_path)
    p.write_bytes(pickle.dumps({b"data": np.zeros((4, 3072), np.uint8), b"fine_labels": [0] * 4}))
    with pytest.raises(DataError, match="lacks 'data' or 'labels'"):
        load_dataset("cifar10", data_dir=tmp_path)
    p.write_bytes(pickle.dumps({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2]}))
    with pytest.raises(DataError, match="4 images but labels of shape"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_unknown_dataset_is_a_config_error() -> None:
    assert {"digits", "mnist-subset", "mnist", "fashion-mnist", "cifar10"} <= set(
        available_datasets()
    )
    with pytest.raises(ConfigError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")


# ---------------------------------------------------------------- download helper (no network)


def _fake_source(
    monkeypatch: pytest.MonkeyPatch,
    payload: bytes,
    name: str = "x.gz",
    urls: tuple[str, ...] = ("https://mirror-a/x.gz",),
) -> None:
    spec = dl.RemoteFile(name, urls, hashlib.sha256(payload).hexdigest(), len(payload))
    monkeypatch.setitem(dl.SOURCES, "fake", dl.DatasetSource("fake", (spec,)))


def test_download_rejects_a_file_with_the_wrong_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def bad_fetch(url: str, dest: Path) -> None:
        calls.append(url)
        dest.write_bytes(b"<html>this is not the MNIST file</html>")

    monkeypatch.setattr(dl, "fetch_url", bad_fetch)
    with pytest.raises(DataError) as err:
        dl.download("mnist", tmp_path)
    msg = str(err.value)
    assert "train-images-idx3-ubyte.gz" in msg
    assert dl.SOURCES["mnist"].files[0].sha256 in msg  # expected hash is named
    assert hashlib.sha256(b"<html>this is not the MNIST file</html>").hexdigest() in msg
    assert calls == list(dl.SOURCES["mnist"].files[0].urls)  # every mirror tried
    assert list(tmp_path.iterdir()) == []  # nothing unverified left behind


def test_download_same_size_different_bytes_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = b"the real bytes"
    _fake_source(monkeypatch, good)
    with pytest.raises(DataError, match="x.gz"):
        dl.download("fake", tmp_path, fetch=lambda url, dest: dest.write_bytes(b"the fake bytes"))
    assert not (tmp_path / "x.gz").exists()


def test_download_accepts_verified_bytes_tries_mirrors_and_skips_present_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = os.urandom(3000)
    _fake_source(monkeypatch, payload, urls=("https://down/x.gz", "https://up/x.gz"))
    calls: list[str] = []

    def fetch(url: str, dest: Path) -> None:
        calls.append(url)
        if "down" in url:
            raise OSError("connection refused")
        dest.write_bytes(payload)

    (path,) = dl.download("fake", tmp_path, fetch=fetch)
    assert path.read_bytes() == payload and calls == ["https://down/x.gz", "https://up/x.gz"]
    assert dl.verify("fake", tmp_path) == {"x.gz": "ok (sha256)"}
    dl.download("fake", tmp_path, fetch=fetch)
    assert len(calls) == 2  # already present and verified: not fetched again
    path.write_bytes(b"tampered")
    assert dl.verify("fake", tmp_path) == {"x.gz": "checksum mismatch"}
    dl.download("fake", tmp_path, fetch=fetch)
    assert path.read_bytes() == payload


def test_download_extracts_verified_cifar_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = make_cifar_batches(tmp_path / "src" / "cifar-10-batches-py")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    payload = buf.getvalue()
    spec = dl.RemoteFile(
        "cifar-10-python.tar.gz",
        ("https://x/c.tgz",),
        hashlib.sha256(payload).hexdigest(),
        len(payload),
    )
    monkeypatch.setitem(dl.SOURCES, "cifar10", dl.DatasetSource("cifar10", (spec,), extract=True))
    dest = tmp_path / "dest"
    dl.download("cifar10", dest, fetch=lambda url, p: p.write_bytes(payload))
    assert (dest / "cifar-10-batches-py" / "test_batch").is_file()
    _check_cifar(load_dataset("cifar10", data_dir=dest), batches)


def test_download_sources_are_complete() -> None:
    for name in ("mnist", "fashion-mnist", "cifar10"):
        src = dl.SOURCES[name]
        for f in src.files:
            assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0
            assert f.size > 0 and f.urls and all(u.endswith(f.filename) for u in f.urls)
    with pytest.raises(ConfigError, match="no download is known for dataset 'digits'"):
        dl.download("digits", "/nonexistent")


# ---------------------------------------------------------------- CLI


def test_data_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hwprune.commands.data_cmd import data_app

    make_idx_dataset(tmp_path)
    runner = CliRunner()
    res = runner.invoke(data_app, ["info", "mnist", "--data-dir", str(tmp_path), "--seed", "1"])
    assert res.exit_code == 0, res.output
    assert "train 180, val 20, test 50; input 1x28x28" in res.output
    res = runner.invoke(data_app, ["list"])
    assert "fashion-mnist  (downloadable)" in res.output and "digits" in res.output
    res = runner.invoke(data_app, ["verify", "mnist", "--dir", str(tmp_path)])
    assert res.exit_code == 1 and "checksum mismatch" in res.output


def test_cli_data_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hwprune.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["data", "info", "mnist", "--data-dir", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("hwprune: error: mnist data file") and err.count("\n") == 1
