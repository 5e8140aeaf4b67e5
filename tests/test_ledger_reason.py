"""Why a step x period is built, as the run report says: new, forced, or what changed."""

from __future__ import annotations

import json
from pathlib import Path

from rs.pipeline.ledger import build_reason


def _publish(out: Path, **props: object) -> None:
    (out / "items").mkdir(parents=True)
    (out / "t_c_p_ndvi.tif").write_bytes(b"")
    item = {
        "id": "t-c-p",
        "properties": {
            "rs:version": "1.0",
            "rs:parameters": {"kind": "composite", "bands": ["red", "nir"]},
            "rs:inputs": ["a", "b"],
            "rs:skipped": [{"scene": "c", "reason": "unreadable"}],
            **props,
        },
        "assets": {"ndvi": {"href": "../t_c_p_ndvi.tif"}},
    }
    (out / "items" / "t-c-p.json").write_text(json.dumps(item))


PARAMS = {"kind": "composite", "bands": ["red", "nir"]}


def _why(out: Path, **kw: object) -> str:
    args: dict = {"parameters": PARAMS, "inputs": ["a", "b", "c"], "version": "1.0"}
    args.update(kw)
    return build_reason(out, "t-c-p", force=False, **args)


def test_build_reason__new_and_forced(tmp_path: Path) -> None:
    assert _why(tmp_path) == "new: no output item yet"
    assert (
        build_reason(tmp_path, "t-c-p", parameters=PARAMS, inputs=[], version="1.0", force=True)
        == "forced (--force)"
    )


def test_build_reason__names_what_changed(tmp_path: Path) -> None:
    _publish(tmp_path)
    # the same offer (skipped scene c counts as offered): only something else changed
    assert _why(tmp_path) == "changed: an upstream output, the AOI, grid or period"
    assert _why(tmp_path, inputs=["a", "b", "c", "d"]) == "changed: inputs changed: 1 new, 0 gone"
    assert _why(tmp_path, inputs=["a"]) == "changed: inputs changed: 0 new, 2 gone"
    assert _why(tmp_path, parameters={**PARAMS, "bands": ["red"]}) == "changed: parameters changed"
    assert _why(tmp_path, version="1.1") == "changed: rs version 1.0 -> 1.1"
    (tmp_path / "t_c_p_ndvi.tif").unlink()
    assert _why(tmp_path) == "changed: 1 output file(s) missing"
