"""The ledger of what a pipeline already produced, read from the output catalog.

A step x period is identified by a run key: a hash of what the runner puts in (the step's
kind and parameters, the grid CRS, the AOI, the period, per source the ids the catalogue holds
and those unreadable at preflight, the upstream steps' run keys) and the rs version.
A scheduled job whose inputs did not change finds its run key in
the output catalog (with every asset file present) and has nothing to do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["asset_paths", "build_reason", "find_up_to_date", "parameters_sha256", "run_key"]


def parameters_sha256(parameters: Mapping[str, Any]) -> str:
    """SHA-256 of a step's parameters as canonical JSON (sorted keys, no spaces): the item's
    ``rs:parameters_sha256``, so a catalogue can tell runs with the same settings apart from
    others without comparing the parameters themselves."""
    payload = json.dumps(parameters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def run_key(parameters: Mapping[str, Any], scene_ids: Iterable[str], version: str) -> str:
    """Stable hex digest of what determines a product's content."""
    payload = json.dumps(
        {"parameters": parameters, "scenes": sorted(scene_ids), "version": version},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def asset_paths(item_path: Path, item: Mapping[str, Any]) -> dict[str, Path]:
    """Absolute path of each asset of the output item stored at ``item_path``."""
    return {
        key: (Path(item_path).parent / a["href"]).resolve()
        for key, a in item.get("assets", {}).items()
    }


def find_up_to_date(out_dir: Path, item_id: str, key: str) -> dict[str, Any] | None:
    """The output item ``item_id`` if it has run key ``key`` and all its files exist."""
    path = Path(out_dir) / "items" / f"{item_id}.json"
    try:
        item = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None  # absent or unreadable: the product is rebuilt
    if item.get("id") != item_id or item.get("properties", {}).get("rs:run_key") != key:
        return None
    if all(p.exists() for p in asset_paths(path, item).values()):
        return dict(item)
    return None


def build_reason(
    out_dir: Path,
    item_id: str,
    *,
    parameters: Mapping[str, Any],
    inputs: Iterable[str],
    version: str,
    force: bool,
) -> str:
    """Why a step x period that is not up to date is built, for the run report: forced, new (no
    item yet), or what differs from the published item (rs version, parameters, the inputs the
    catalogue offers, missing files; else an upstream output, the AOI, grid or period)."""
    if force:
        return "forced (--force)"
    path = Path(out_dir) / "items" / f"{item_id}.json"
    try:
        item = json.loads(path.read_text(encoding="utf-8"))
        props = item["properties"]
    except (OSError, ValueError, KeyError, TypeError):
        return "new: no output item yet"
    changes = []
    if props.get("rs:version") != version:
        changes.append(f"rs version {props.get('rs:version')} -> {version}")
    if props.get("rs:parameters") != json.loads(json.dumps(parameters, default=str)):
        changes.append("parameters changed")
    # everything the catalogue offered last time: used, or skipped with a reason
    old = set(props.get("rs:inputs", [])) | {
        r.get("scene") for r in props.get("rs:skipped", []) if isinstance(r, dict)
    }
    new = set(inputs)
    if old != new:
        changes.append(f"inputs changed: {len(new - old)} new, {len(old - new)} gone")
    missing = [k for k, p in asset_paths(path, item).items() if not p.exists()]
    if missing:
        changes.append(f"{len(missing)} output file(s) missing")
    return "changed: " + ("; ".join(changes) or "an upstream output, the AOI, grid or period")
