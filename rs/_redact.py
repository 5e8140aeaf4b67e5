"""Secrets out of what rs writes down: logs, run reports (JSON and HTML) and STAC items.

A source URL or a signed asset href can carry credentials: ``https://user:pass@host/stac``,
``...?token=abc``, ``...?sig=...&se=...`` (Azure SAS), ``...?X-Amz-Signature=...`` (S3
presigned), ``...?api_key=...``. :func:`redact` replaces the user-info of every URL in a text and
the value of every query parameter whose name looks secret with ``***``; the rest (host, path,
other parameters) stays, so a reader still sees which source or file was meant.
:func:`redact_obj` does the same through dicts, lists and tuples (a report body, item
properties).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MASK", "SECRET_PARAM", "redact", "redact_obj"]

MASK = "***"

#: query parameter names whose values are secrets (case-insensitive, matched anywhere in the
#: name: ``access_token``, ``X-Amz-Signature``, ``X-Amz-Credential``, ``sig``, ``apikey``, ...)
SECRET_PARAM = re.compile(
    r"token|sig|key|secret|passw|pwd|credential|auth|session|code",
    re.IGNORECASE,
)

# scheme://user[:password]@  (user-info of any URL; no '/', '@' or space inside)
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/@\s'\"<>]+)@")
# ?name=value / &name=value (also ;name=value), value up to the next separator or quote
_PARAM = re.compile(r"(?P<sep>[?&;])(?P<name>[A-Za-z0-9_.\-\[\]%]+)=(?P<value>[^&;#\s'\"<>]*)")


def _param(m: re.Match[str]) -> str:
    name = m.group("name")
    if m.group("value") and SECRET_PARAM.search(name):
        return f"{m.group('sep')}{name}={MASK}"
    return m.group(0)


def redact(text: str) -> str:
    """``text`` with URL user-info and secret-looking query parameter values masked."""
    if "@" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    return _PARAM.sub(_param, text)


def redact_obj(obj: Any) -> Any:
    """``obj`` with :func:`redact` applied to every string in it (keys included), recursively
    through dicts, lists and tuples; other values are returned as they are."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact_obj(k): redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact_obj(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(redact_obj(v) for v in obj)
    return obj
