"""Change-patch typing (issue 7 part 3): features by hand, the calibrated classifier on seeded
synthetic patches (held-out accuracy, confidence), skops files with a card and the refusal of
tampered / non-skops / untrusted files, and `rs train-change`."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import skops.io as sio
from affine import Affine
from click.testing import CliRunner
from shapely.geometry import LineString, box

from rs.change.features import (
    FEATURES,
    SHAPE_FEATURES,
    features_from_columns,
    index_layers,
    patch_features,
    shape_features,
)
from rs.change.typing_model import (
    MODEL_KIND,
    TYPES,
    TypingResult,
    load_typing_model,
    predict_types,
    save_typing_model,
    synthetic_patches,
    train_typing_model,
)
from rs.cli import cli
from rs.cli_change import _features
from rs.errors import AssetReadError, SpecError


@pytest.fixture(scope="module")
def trained() -> TypingResult:
    return train_typing_model(synthetic_patches(40, seed=0).features(), n_splits=3, seed=0)


@pytest.fixture(scope="module")
def saved(trained: TypingResult, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The three files of the trained model (saved once; each test writes its own copy)."""
    folder = tmp_path_factory.mktemp("saved")
    files = save_typing_model(trained.model, folder / "typing.skops", trained.card)
    return {p.name: p.read_bytes() for p in files}


def _copy(saved: dict[str, bytes], folder: Path) -> Path:
    for name, data in saved.items():
        (folder / name).write_bytes(data)
    return folder / "typing.skops"


# -- features -------------------------------------------------------------------------------


def test_shape_features_by_hand() -> None:
    sq = shape_features(box(0, 0, 100, 100))
    assert sq["area_m2"] == pytest.approx(10_000)
    assert sq["elongation"] == pytest.approx(1)
    assert sq["rectangularity"] == pytest.approx(1)
    assert sq["compactness"] == pytest.approx(np.pi / 4)
    road = shape_features(LineString([(0, 0), (400, 0)]).buffer(10, cap_style="flat"))
    assert road["elongation"] == pytest.approx(20)
    assert road["compactness"] < 0.2
    disc = shape_features(box(0, 0, 1, 1).centroid.buffer(50, quad_segs=64))
    assert disc["compactness"] == pytest.approx(1, abs=0.01)
    assert disc["rectangularity"] == pytest.approx(np.pi / 4, abs=0.01)
    assert np.isnan(shape_features(box(0, 0, 0, 0))["area_m2"])


def _layers(value: float, shape: tuple[int, int] = (10, 10)) -> dict[str, np.ndarray]:
    return {k: np.full(shape, value) for k in ("ndvi", "ndbi", "bsi", "mndwi", "brightness")}


def test_patch_features_by_hand() -> None:
    t = Affine(10, 0, 0, 0, -10, 100)  # 10 x 10 pixels of 10 m
    before, after = _layers(0.5), _layers(0.1)
    after["ndvi"][0:2, 0:2] = [[0.0, 0.2], [0.0, 0.2]]  # patch A: delta -0.5 / -0.3
    after["ndbi"][5, 5] = np.nan  # left out of patch B's ndbi
    a = box(0, 80, 20, 100)  # pixels rows 0-1, cols 0-1
    b = box(40, 40, 70, 60)  # rows 4-5, cols 4-6
    tiny = box(91, 1, 93, 3)  # inside pixel (9, 9), covers no pixel centre
    f = patch_features([a, b, tiny], before, after, t)
    assert list(f.columns) == list(FEATURES)
    assert f.loc[0, "ndvi_before"] == pytest.approx(0.5)
    assert f.loc[0, "ndvi_after"] == pytest.approx(0.1)
    assert f.loc[0, "d_ndvi"] == pytest.approx(-0.4)
    assert f.loc[0, "ndvi_dstd"] == pytest.approx(0.1)
    assert f.loc[1, "ndbi_after"] == pytest.approx(0.1)  # the NaN pixel is not a mean of NaN
    assert f.loc[1, "area_m2"] == pytest.approx(600)
    assert f.loc[2, "d_bsi"] == pytest.approx(-0.4)  # sub-pixel patch: the pixel it touches


def test_index_layers_from_reflectance_and_refusal() -> None:
    r = {"blue": np.array([0.05]), "green": np.array([0.08]), "red": np.array([0.06]),
         "nir": np.array([0.3]), "swir16": np.array([0.15])}
    out = index_layers(r)
    assert out["ndvi"][0] == pytest.approx((0.3 - 0.06) / 0.36)
    assert out["mndwi"][0] == pytest.approx((0.08 - 0.15) / 0.23)
    assert out["brightness"][0] == pytest.approx(0.128)
    with pytest.raises(SpecError, match="ndbi"):
        index_layers({"ndvi": np.zeros(1), "bsi": np.zeros(1)})


def test_features_from_columns() -> None:
    table = pd.DataFrame({f"{i}_{w}": [0.1 if w == "before" else 0.4]
                          for i in ("ndvi", "ndbi", "bsi", "mndwi", "brightness")
                          for w in ("before", "after")})
    f = features_from_columns(table, [box(0, 0, 50, 20)])
    assert f.loc[0, "d_ndvi"] == pytest.approx(0.3)
    assert np.isnan(f.loc[0, "ndvi_dstd"])
    assert f.loc[0, "elongation"] == pytest.approx(2.5)
    with pytest.raises(SpecError, match="ndvi_before"):
        features_from_columns(table.drop(columns="ndvi_before"), [box(0, 0, 1, 1)])


# -- the model --------------------------------------------------------------------------------


def test_synthetic_scene_is_seeded_and_typed() -> None:
    a, b = synthetic_patches(3, seed=5), synthetic_patches(3, seed=5)
    assert list(a.patches["type"]) == list(b.patches["type"])
    assert np.array_equal(a.after["ndvi"], b.after["ndvi"])
    assert sorted(set(a.patches["type"])) == sorted(TYPES)
    f = synthetic_patches(20, seed=2).features().groupby("type")[list(SHAPE_FEATURES)].median()
    assert f["elongation"].idxmax() == "road"
    assert f["rectangularity"]["farmland_reclamation"] > f["rectangularity"]["mining"]


def test_held_out_type_accuracy(trained: TypingResult) -> None:
    test = synthetic_patches(25, seed=11).features()
    pred = predict_types(trained.model, test)
    acc = float((pred["type"].to_numpy() == test["type"].to_numpy()).mean())
    # measured: 1.00 (150 held-out patches, seed 11; CV on the training scene 0.9875); the
    # goal of issue 7 is 0.85
    assert acc >= 0.85
    assert trained.metrics["accuracy"] >= 0.85  # cross-validated on the training scene


def test_confidence_calibrated(trained: TypingResult) -> None:
    # a scene whose types overlap more than the training scene's, so some predictions are wrong
    test = synthetic_patches(25, seed=12, spread=2.5).features()
    pred = predict_types(trained.model, test)
    conf = pred["confidence"].to_numpy()
    assert np.all((conf >= 0) & (conf <= 1))
    probs = pred[[c for c in pred.columns if c.startswith("p_")]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1)
    right = pred["type"].to_numpy() == test["type"].to_numpy()
    # measured: 19 of 150 wrong (accuracy 0.873), mean confidence 0.81 right, 0.48 wrong
    assert (~right).sum() >= 5
    assert conf[right].mean() > conf[~right].mean() + 0.1


def test_training_refuses_too_few_labels() -> None:
    table = synthetic_patches(3, seed=1).features()
    table.loc[table.index[table["type"] == "road"][1:], "type"] = None  # one road left
    with pytest.raises(SpecError, match="road"):
        train_typing_model(table, n_splits=2)


# -- files ------------------------------------------------------------------------------------


def test_skops_round_trip(trained: TypingResult, tmp_path: Path) -> None:
    files = save_typing_model(trained.model, tmp_path / "typing.skops", trained.card)
    assert [p.name for p in files] == ["typing.skops", "typing.card.json", "typing.card.md"]
    model, card = load_typing_model(tmp_path / "typing.skops")
    test = synthetic_patches(5, seed=3).features()
    assert np.allclose(model.predict_proba(test[list(FEATURES)]),
                       trained.model.predict_proba(test[list(FEATURES)]))
    assert card["model"]["kind"] == MODEL_KIND
    assert card["features"]["numeric"] == list(FEATURES)
    assert card["file"]["sha256"] == hashlib.sha256(files[0].read_bytes()).hexdigest()
    assert card["training_data"]["rows"] == 240
    assert "accuracy" in card["cross_validation"]
    assert "Cross-validation" in files[2].read_text()
    assert b"pickle" not in files[0].read_bytes()[:4]


def _rewrite(tmp_path: Path, data: bytes, **card_changes: object) -> Path:
    """Write ``data`` as a model whose card matches it (as an attacker with write access
    to both files could)."""
    card = json.loads((tmp_path / "typing.card.json").read_text())
    card["file"]["sha256"] = hashlib.sha256(data).hexdigest()
    card.update(card_changes)
    (tmp_path / "typing.skops").write_bytes(data)
    (tmp_path / "typing.card.json").write_text(json.dumps(card))
    return tmp_path / "typing.skops"


def test_refuses_tampered_and_invalid_files(saved: dict[str, bytes], tmp_path: Path) -> None:
    path = _copy(saved, tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(AssetReadError, match="does not match its card"):
        load_typing_model(path)
    _rewrite(tmp_path, b"not a zip file at all")
    with pytest.raises(AssetReadError, match="not a valid skops"):
        load_typing_model(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:  # a zip archive, but not skops
        z.writestr("hello.txt", "hi")
    _rewrite(tmp_path, buf.getvalue())
    with pytest.raises(AssetReadError, match=r"not a valid skops.*schema\.json"):
        load_typing_model(path)
    (tmp_path / "typing.card.json").unlink()
    with pytest.raises(AssetReadError, match="card"):
        load_typing_model(path)


def test_refuses_untrusted_types(
    trained: TypingResult, saved: dict[str, bytes], tmp_path: Path
) -> None:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    _copy(saved, tmp_path)
    evil = Pipeline([("f", FunctionTransformer(np.save)), ("model", trained.model[-1])])
    data = sio.dumps(evil)
    assert "numpy.save" in sio.get_untrusted_types(data=data)
    path = _rewrite(tmp_path, data)
    with pytest.raises(AssetReadError, match=r"not trusted: .*numpy.save"):
        load_typing_model(path)
    with pytest.raises(SpecError, match=r"numpy\.save"):
        save_typing_model(evil, tmp_path / "evil.skops", trained.card)
    assert not (tmp_path / "evil.skops").exists()


def test_refuses_another_kind_of_model(saved: dict[str, bytes], tmp_path: Path) -> None:
    path = _copy(saved, tmp_path)
    _rewrite(tmp_path, path.read_bytes(), model={"kind": "linear", "steps": []})
    with pytest.raises(AssetReadError, match="not a 'change-typing' model"):
        load_typing_model(path)


# -- rs train-change --------------------------------------------------------------------------


def _write_raster(path: Path, layers: dict[str, np.ndarray], t: Affine, crs: str) -> None:
    names = list(layers)
    h, w = layers[names[0]].shape
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=len(names),
                       dtype="float32", crs=crs, transform=t) as ds:
        for i, n in enumerate(names, 1):
            ds.write(layers[n].astype("float32"), i)
            ds.set_band_description(i, n)


def test_cli_feature_columns(tmp_path: Path) -> None:
    scene = synthetic_patches(8, seed=21)
    table = scene.features().drop(columns=list(SHAPE_FEATURES))  # shapes from the polygons
    gpd.GeoDataFrame(table, geometry="geometry", crs=scene.crs).to_crs("EPSG:4326").to_file(
        tmp_path / "labels.gpkg")
    res = CliRunner().invoke(cli, ["train-change", str(tmp_path / "labels.gpkg"),
                                   "--out", str(tmp_path / "m.skops"), "--folds", "3"])
    assert res.exit_code == 0, res.output
    assert "accuracy" in res.output and "road" in res.output
    _, card = load_typing_model(tmp_path / "m.skops")
    assert card["training_data"]["rows"] == 48
    assert card["cross_validation"]["n_splits"] == 3


def test_cli_rasters_and_verified_layer(tmp_path: Path) -> None:
    scene = synthetic_patches(8, seed=22)
    _write_raster(tmp_path / "before.tif", scene.before, scene.transform, scene.crs)
    _write_raster(tmp_path / "after.tif", scene.after, scene.transform, scene.crs)
    labels = scene.patches.copy()
    labels["verification"] = "confirmed"
    # the field team rejected every pond (as if they were confusers): they become not_activity
    labels.loc[labels["type"] == "water_engineering", "verification"] = "rejected"
    labels.loc[labels.index[:3], "verification"] = ""  # unverified: not used
    labels["note"] = ""
    labels.to_file(tmp_path / "labels.gpkg")
    res = CliRunner().invoke(cli, ["train-change", str(tmp_path / "labels.gpkg"),
                                   "--out", str(tmp_path / "m.skops"),
                                   "--before", str(tmp_path / "before.tif"),
                                   "--after", str(tmp_path / "after.tif"), "--folds", "3"])
    assert res.exit_code == 0, res.output
    assert "45 confirmed/rejected patches used" in res.output
    _, card = load_typing_model(tmp_path / "m.skops")
    assert card["training_data"]["rows"] == 45
    per_type = card["training_data"]["per_type"]
    assert "water_engineering" not in per_type
    assert per_type["not_activity"] == int(
        (labels["verification"] == "rejected").sum())
    assert card["cross_validation"]["accuracy"] >= 0.8
    # the features read from the files are those computed in memory
    from_files = _features(gpd.read_file(tmp_path / "labels.gpkg"), tmp_path / "before.tif",
                           tmp_path / "after.tif")
    assert np.allclose(from_files.to_numpy(), scene.features()[list(FEATURES)].to_numpy(),
                       equal_nan=True, atol=1e-6)


def test_cli_bad_input(tmp_path: Path) -> None:
    scene = synthetic_patches(3, seed=23)
    scene.patches.drop(columns="type").to_file(tmp_path / "labels.gpkg")
    res = CliRunner().invoke(cli, ["train-change", str(tmp_path / "labels.gpkg"),
                                   "--out", str(tmp_path / "m.skops")])
    assert res.exit_code != 0
    assert "no column 'type'" in res.output
    assert not (tmp_path / "m.skops").exists()
    scene.patches.to_file(tmp_path / "labels2.gpkg")  # no features, no rasters
    res = CliRunner().invoke(cli, ["train-change", str(tmp_path / "labels2.gpkg"),
                                   "--out", str(tmp_path / "m.skops")])
    assert res.exit_code != 0 and "ndvi_before" in res.output
    res = CliRunner().invoke(cli, ["train-change", str(tmp_path / "missing.gpkg"),
                                   "--out", str(tmp_path / "m.skops")])
    assert res.exit_code != 0 and "no such file" in res.output
