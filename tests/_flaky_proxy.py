"""A flaky HTTP proxy in front of the embedded STAC API, for the fault tests.

The machinery is library code in :mod:`rs.testing.faults` (``python -m bench faults`` uses it
too): :class:`FlakyProxy` fails a seeded share of requests (502 / 503 / connection reset /
stall past the client's timeout), and :func:`flaky_api` starts the real embedded API
(``rustac serve`` on a world's items, :class:`rs.sources.local.EmbeddedStacApi`) behind it.
Only the API goes through the proxy: the synthetic worlds' asset hrefs are ``file://``.
"""

from __future__ import annotations

from rs.testing.faults import FlakyProxy, flaky_api

__all__ = ["FlakyProxy", "flaky_api"]
