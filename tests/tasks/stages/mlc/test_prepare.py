"""mlc-prepare reads any dataset the profile names from data/ (a table for digits, image arrays for the rest)
and builds the synthetic sets, linear or not."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tasks.platform.errors import NotReady
from tasks.stages.mlc import catalogue
from tests.tasks.stages.conftest import Stages


def _images(stages: Stages, name: str, n: int, shape: tuple[int, ...]) -> None:
    """data/<name>/{train,test}.npz and source.json as ingest writes an image dataset."""
    folder = stages.root / "data" / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, size in (("train", n), ("test", n // 2)):
        labels = np.arange(size) % 4
        np.savez(
            folder / f"{split}.npz",
            images=rng.integers(0, 256, (size, *shape), dtype=np.uint8),
            labels=labels,
        )
    (folder / "source.json").write_text(json.dumps({"source": "mirror-jpeg-q75"}))


def test_prepare_takes_datasets_by_name_and_manifold_specs(stages: Stages) -> None:
    stages.digits()
    _images(stages, "fashion_mnist", 40, (28, 28))
    _images(stages, "cifar10", 20, (32, 32, 3))
    params = stages.params("mlc")
    params["prepare"] = {
        "datasets": {"digits": {"n": 50}, "fashion_mnist": {"n": None}, "cifar10": {"n": 25}},
        "synthetic": [
            {
                "name": "curves",
                "kind": "curves",
                "n_manifolds": 2,
                "ambient_dim": 8,
                "points_per_manifold": 30,
                "noise": 0.0,
                "seed": 0,
            },
        ],
    }
    out = stages.root / "prepared"
    stages.run("mlc", "prepare", params, {"data": stages.root / "data"}, {"prepared": out})

    entries = {e["name"]: e for e in catalogue.entries(out)}
    assert [(e["n"], e["dim"], e["n_clusters"]) for e in entries.values()] == [
        (50, 64, 10),
        (60, 784, 4),
        (25, 3072, 4),
        (60, 8, 2),
    ]
    assert entries["fashion_mnist"]["image_shape"] == [28, 28] and entries["curves"]["image_shape"] is None
    assert entries["cifar10"]["source"] == "mirror-jpeg-q75"  # the report can say which copy it used
    X, y = catalogue.load(out, "fashion_mnist")  # training then test images, on the unit sphere
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    with np.load(stages.root / "data" / "fashion_mnist" / "test.npz") as test:
        np.testing.assert_allclose(
            catalogue.load_raw(out, "fashion_mnist")[40:], test["images"].reshape(20, -1) / 255
        )
    assert y.tolist() == [i % 4 for i in range(40)] + [i % 4 for i in range(20)]


def test_a_dataset_not_ingested_says_how_to_get_it(stages: Stages) -> None:
    params = stages.params("mlc")
    params["prepare"] = {"datasets": {"fashion_mnist": {"n": 10}}, "synthetic": []}
    (stages.root / "data").mkdir()
    with pytest.raises(NotReady, match="studies ingest --dataset fashion_mnist"):
        stages.run("mlc", "prepare", params, {"data": stages.root / "data"}, {"prepared": stages.root / "p"})
