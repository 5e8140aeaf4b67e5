"""Model files: a scikit-learn model saved with skops beside its card, and loaded back only
with the types its caller trusts (no pickle anywhere in rs).

:func:`save_model` writes ``<stem>.skops``, ``<stem>.card.json`` and ``<stem>.card.md``
atomically, the card holding the model file's SHA-256, the skops version and the types the model
needs trusted; a model holding a type outside ``trusted`` is refused before anything is written.
:func:`load_model` checks the file against its card's SHA-256 and refuses any type outside
``trusted``. Used by :mod:`rs.stations.modelcard` and :mod:`rs.change.typing_model`, each with
its own trusted list and Markdown card.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rs.errors import AssetReadError, SpecError

__all__ = ["card_footer", "load_model", "save_model"]


def _stem(path: Path | str) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix == ".skops" else path


def save_model(model: Any, path: Path | str, card: dict[str, Any], *,
               trusted: Sequence[str], markdown: Callable[[dict[str, Any]], str]) -> list[Path]:
    """Write the model and its card (JSON and ``markdown(card)``); returns the three paths."""
    import skops
    import skops.io as sio

    from rs.export._atomic import atomic_path

    stem = _stem(path)
    target = stem.with_suffix(".skops")
    # deflate: a boosted model's node arrays shrink ~6x (skops' default stores them raw)
    data = sio.dumps(model, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    found = sorted(sio.get_untrusted_types(data=data))
    extra = [t for t in found if t not in trusted]
    if extra:
        raise SpecError(f"the model holds types rs does not trust: {', '.join(extra)}")
    card = {**card, "file": {"name": target.name, "sha256": hashlib.sha256(data).hexdigest(),
                             "format": "skops"},
            "trusted_types": found}
    card["versions"] = {**card.get("versions", {}), "skops": skops.__version__}
    out = []
    for p, content in ((target, data),
                       (stem.with_suffix(".card.json"),
                        json.dumps(card, indent=2, ensure_ascii=False).encode()),
                       (stem.with_suffix(".card.md"), markdown(card).encode())):
        with atomic_path(p) as tmp:
            tmp.write_bytes(content)
        out.append(p)
    return out


def load_model(path: Path | str, *, trusted: Sequence[str]) -> tuple[Any, dict[str, Any]]:
    """Load ``<stem>.skops`` and its card: the file must match the card's SHA-256 and hold no
    type outside skops' defaults and ``trusted`` (:class:`AssetReadError` otherwise)."""
    import skops.io as sio

    stem = _stem(path)
    target, card_path = stem.with_suffix(".skops"), stem.with_suffix(".card.json")
    try:
        data = target.read_bytes()
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise AssetReadError(f"cannot read model {target} or its card {card_path}: {e}") from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != card.get("file", {}).get("sha256"):
        raise AssetReadError(f"{target} does not match its card {card_path.name} (SHA-256 "
                             f"{digest[:12]}...): the file changed after it was saved")
    found = sio.get_untrusted_types(data=data)
    refused = sorted(set(found) - set(trusted))
    if refused:
        raise AssetReadError(f"{target} holds types that are not trusted: {', '.join(refused)}"
                             " (refused; pass trusted=... only after reviewing them)")
    return sio.loads(data, trusted=list(found)), card


def card_footer(card: dict[str, Any]) -> list[str]:
    """The Markdown lines every model card ends with: versions, the file and its SHA-256, the
    trusted types and when it was made."""
    lines = ["## Versions", "", *(f"- {k}: {v}" for k, v in card.get("versions", {}).items())]
    if "file" in card:
        lines += ["", "## File", "", f"- {card['file']['name']} (skops), SHA-256 "
                  f"`{card['file']['sha256']}`",
                  f"- trusted types: {', '.join(card.get('trusted_types', [])) or '-'}"]
    if "created" in card:
        lines += [f"- created: {card['created']}"]
    return lines
