"""All HTTP of the STAC sources in one place: sessions, retries, timeouts, error translation.

Like pystac-client's ``stac_api_io.py``, nothing else in :mod:`rs.sources` configures a
``requests`` session or interprets a transport failure. :func:`open_client` returns a
pystac-client :class:`~pystac_client.Client` whose :class:`~pystac_client.stac_api_io.StacApiIO`
retries (urllib3 ``Retry``) and :func:`stac_errors` turns whatever pystac-client raises into
an :mod:`rs.errors` exception whose message says what to check.

Retry policy (one :class:`urllib3.util.Retry` per session):

- connection errors, read timeouts and the statuses in :data:`RETRY_STATUSES` (HTTP 5xx and
  429) are retried ``retries`` times, on every HTTP method (a STAC search POST is idempotent);
- exponential backoff: no wait before the first retry, then ``backoff * 2**(n-1)`` seconds,
  capped at :data:`BACKOFF_MAX`; a ``Retry-After`` header is honoured up to
  :data:`RETRY_AFTER_MAX` seconds;
- once retries are exhausted the last 5xx response is returned (not raised), so its body
  reaches the error message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
from pystac import STACError
from pystac_client import Client
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from pystac_client.warnings import DoesNotConformTo
from urllib3.util.retry import Retry

from rs.errors import SourceError, SourceUnavailableError

__all__ = [
    "BACKOFF_MAX",
    "DEFAULT_BACKOFF",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "RETRY_AFTER_MAX",
    "RETRY_STATUSES",
    "Modifier",
    "close_client",
    "make_retry",
    "make_stac_io",
    "open_client",
    "probe",
    "stac_errors",
]

#: Seconds to wait for a connection and for each read of a response.
DEFAULT_TIMEOUT = 30.0
#: Retries after the first attempt (so ``retries + 1`` requests at most).
DEFAULT_RETRIES = 4
#: Backoff factor in seconds: waits 0, 2*b, 4*b, ... between attempts.
DEFAULT_BACKOFF = 0.5
#: Longest wait between two attempts computed from the backoff.
BACKOFF_MAX = 60.0
#: Longest ``Retry-After`` honoured, seconds.
RETRY_AFTER_MAX = 60
#: Response statuses that are retried: every 5xx and 429 Too Many Requests.
RETRY_STATUSES: frozenset[int] = frozenset({429, *range(500, 600)})

#: A pystac-client ``modifier``: mutates an Item / Collection / dict in place (e.g. signs hrefs).
Modifier = Callable[[Any], None]

_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.RetryError,
)


def make_retry(retries: int, backoff: float) -> Retry:
    """The urllib3 retry policy described in the module docstring."""
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if backoff < 0:
        raise ValueError(f"backoff must be >= 0, got {backoff}")
    return Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=5,
        allowed_methods=None,  # retry POST /search too: searching is idempotent
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        backoff_max=BACKOFF_MAX,
        raise_on_status=False,  # hand back the last 5xx so its body reaches the message
        respect_retry_after_header=True,
        retry_after_max=RETRY_AFTER_MAX,
    )


def make_stac_io(
    *,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    headers: dict[str, str] | None = None,
) -> StacApiIO:
    """A pystac-client ``StacApiIO`` with the rs timeout and retry policy."""
    return StacApiIO(headers=headers, timeout=timeout, max_retries=make_retry(retries, backoff))


def open_client(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    headers: dict[str, str] | None = None,
    modifier: Modifier | None = None,
) -> Client:
    """Open the STAC API at ``url`` (reads its landing page) with retries and timeouts.

    Raises :class:`SourceUnavailableError` when the API cannot be reached after retries and
    :class:`SourceError` when it answers with an error or with something that is not STAC.
    The caller should close ``client._stac_io.session`` (see :func:`close_client`).
    """
    stac_io = make_stac_io(timeout=timeout, retries=retries, backoff=backoff, headers=headers)
    try:
        with stac_errors(url, retries=retries, timeout=timeout):
            return Client.open(url, stac_io=stac_io, timeout=timeout, modifier=modifier)
    except BaseException:
        stac_io.session.close()
        raise


def close_client(client: Client) -> None:
    """Close the HTTP session of a client made by :func:`open_client`."""
    stac_io = getattr(client, "_stac_io", None)
    if isinstance(stac_io, StacApiIO):
        stac_io.session.close()


def _transport_cause(err: BaseException) -> BaseException | None:
    """The requests/urllib3 transport error behind ``err``, if any (walks the chain)."""
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, _TRANSPORT_ERRORS):
            return cur
        cur = cur.__cause__ or cur.__context__
    return None


def _server_message(text: str, limit: int = 500) -> str:
    """The useful part of an error body: JSON ``description``/``detail``/``message`` if any."""
    text = text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("description", "detail", "message", "error", "code"):
            if body.get(key):
                text = str(body[key])
                break
    if len(text) > limit:
        text = text[:limit] + "..."
    return text or "(empty response body)"


def translate(err: BaseException, url: str, *, retries: int, timeout: float) -> SourceError:
    """The :mod:`rs.errors` exception for an error raised while talking to ``url``."""
    status = getattr(err, "status_code", None)
    if isinstance(err, APIError) and isinstance(status, int):
        msg = _server_message(str(err))
        if status in RETRY_STATUSES:
            return SourceUnavailableError(
                f"STAC API {url} answered HTTP {status} even after {retries} retries: {msg}. "
                "The service is overloaded or down; try again later or raise `retries`."
            )
        return SourceError(
            f"STAC API {url} rejected the request with HTTP {status}: {msg}. "
            "Check the collection ids, bbox/intersects, datetime and filters."
        )
    cause = _transport_cause(err)
    if cause is not None:
        kind = "timed out" if isinstance(cause, requests.Timeout) else "could not be reached"
        return SourceUnavailableError(
            f"STAC API {url} {kind} after {retries} retries (timeout {timeout} s): {cause}. "
            "Check the URL, your network or proxy settings, and that the server is running."
        )
    if isinstance(err, DoesNotConformTo):
        return SourceError(
            f"{url} does not conform to STAC API item-search ({err}); "
            "give the root URL of a STAC API (e.g. https://earth-search.aws.element84.com/v1)."
        )
    if isinstance(err, APIError | STACError | ValueError | KeyError | TypeError):
        return SourceError(
            f"STAC API {url} answered with something unusable: {err}. "
            "Check that the URL is the root of a STAC API."
        )
    return SourceError(f"STAC API {url} failed: {err!r}")


@contextmanager
def stac_errors(url: str, *, retries: int, timeout: float) -> Iterator[None]:
    """Translate pystac / pystac-client / requests errors raised inside into rs errors.

    ``ValueError`` / ``KeyError`` / ``TypeError`` are read as "the server's answer could not
    be parsed", so wrap *only* calls that fetch or parse what the server sent (opening the
    client, fetching the next page or item, listing collections) — never rs's own code such
    as client-side filtering, sorting or a user's modifier, whose bugs must surface as
    themselves.
    """
    try:
        yield
    except SourceError:
        raise
    except (
        APIError,
        STACError,
        DoesNotConformTo,
        requests.RequestException,
        ValueError,
        KeyError,
        TypeError,
    ) as err:
        raise translate(err, url, retries=retries, timeout=timeout) from err


def get_json(url: str, *, timeout: float = 2.0) -> Any:
    """``GET url`` as JSON without retries or proxies (loopback checks); None on any failure."""
    with requests.Session() as session:
        session.trust_env = False
        try:
            with session.get(url, timeout=timeout) as resp:
                return resp.json() if resp.status_code == 200 else None
        except (requests.RequestException, ValueError):
            return None


def probe(url: str, *, timeout: float = 1.0) -> int | None:
    """HTTP status of one ``GET url`` without retries or proxies, or None if nothing answered.

    Used for health checks of loopback servers, so environment proxy settings are ignored.
    """
    with requests.Session() as session:
        session.trust_env = False
        try:
            with session.get(url, timeout=timeout) as resp:
                return resp.status_code
        except requests.RequestException:
            return None
