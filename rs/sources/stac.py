"""STAC API search through pystac-client: retries, paging, property filters, stable order.

:func:`search_items` is the one entry point. All HTTP (timeouts, retries with exponential
backoff on 5xx / 429 / connection errors / timeouts) lives in :mod:`rs.sources._http`.

Property filters are given as ``{"eo:cloud_cover": {"lt": 30}, "platform": {"in": [...]}}``
with the operators ``lt lte gt gte eq neq in``. They are sent to the server only when its
landing page advertises the Query extension (``query=``) or else the Filter extension with
CQL2-JSON (``filter=``), and they are always re-applied to every returned item: a server
that ignores them, or applies them loosely, cannot leak items. An item that lacks a filtered
property does not match. Never sending ``query`` to a server that does not advertise it is
deliberate: ``rustac serve`` (in-memory backend) answers such a search with zero items.

Results come back sorted by (datetime, id) — ``start_datetime`` stands in for a null
``datetime`` — so runs are reproducible whatever order the server pages in.

STAC APIs that work unchanged (give the URL and collection ids as they are):

- Earth Search (Element 84): ``https://earth-search.aws.element84.com/v1``, collections
  ``sentinel-2-l2a``, ``landsat-c2-l2``; public assets, Query and Filter extensions.
- Microsoft Planetary Computer: ``https://planetarycomputer.microsoft.com/api/stac/v1``.
  Its asset hrefs must be *signed* before they can be read: pass
  ``modifier=planetary_computer.sign_inplace`` (from the ``planetary-computer`` package, not
  an rs dependency); any callable that mutates a :class:`pystac.Item` in place works.
  Signed URLs expire (about an hour): sign close to reading.
- Copernicus Data Space Ecosystem: ``https://stac.dataspace.copernicus.eu/v1`` (collection
  ids such as ``sentinel-2-l2a``); reading its assets needs CDSE S3 credentials.
- The embedded API from :mod:`rs.sources.local` (``rs serve``), e.g. ``http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import pystac
from pystac_client import Client
from pystac_client.conformance import ConformanceClasses
from pystac_client.warnings import PystacClientWarning
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from rs.errors import SpecError, UnknownCollectionError
from rs.sources._http import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    Modifier,
    close_client,
    open_client,
    stac_errors,
)

__all__ = [
    "OPERATORS",
    "DatetimeLike",
    "PropertyFilter",
    "item_sort_key",
    "list_collections",
    "matches",
    "normalize_filters",
    "search_items",
    "server_filter_mode",
]

Operator = Literal["lt", "lte", "gt", "gte", "eq", "neq", "in"]
#: Supported property-filter operators.
OPERATORS: tuple[str, ...] = ("lt", "lte", "gt", "gte", "eq", "neq", "in")

#: A STAC datetime: ``"2022-01-01/2022-06-30"``, a single instant, or a (start, end) pair
#: whose ends are strings, datetimes or None (open).
DatetimeLike = str | dt.datetime | tuple[str | dt.datetime | None, str | dt.datetime | None]

_CQL2_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "eq": "=", "neq": "<>", "in": "in"}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "in": lambda a, b: a in b,
}
_CQL2_JSON = "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json"


@dataclass(frozen=True)
class PropertyFilter:
    """One condition on an item property: ``properties[name] <op> value``."""

    name: str
    op: Operator
    value: Any

    def test(self, properties: Mapping[str, Any]) -> bool:
        """Whether ``properties`` satisfy the condition (a missing or null property fails)."""
        actual = properties.get(self.name)
        if actual is None:
            return False
        if isinstance(actual, float) and math.isnan(actual):
            return False
        try:
            return bool(_COMPARE[self.op](actual, self.value))
        except TypeError:  # e.g. "10" < 30: incomparable types never match
            return False


def normalize_filters(
    filters: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[PropertyFilter, ...]:
    """``{"eo:cloud_cover": {"lt": 30}}`` -> typed :class:`PropertyFilter` s (sorted, validated)."""
    if not filters:
        return ()
    out: list[PropertyFilter] = []
    for name, conditions in filters.items():
        if not isinstance(name, str) or not name:
            raise SpecError(f"filter property names must be non-empty strings, got {name!r}")
        if not isinstance(conditions, Mapping) or not conditions:
            raise SpecError(
                f"filter for {name!r} must be a mapping like {{'lt': 30}}, got {conditions!r}"
            )
        for op, value in conditions.items():
            if op not in _COMPARE:
                raise SpecError(
                    f"unknown filter operator {op!r} for {name!r}; "
                    f"use one of {', '.join(OPERATORS)}"
                )
            if op == "in":
                if isinstance(value, str | bytes) or not isinstance(value, Iterable):
                    raise SpecError(f"filter {name!r} 'in' needs a list of values, got {value!r}")
                value = tuple(value)
            out.append(PropertyFilter(name, cast(Operator, op), value))
    return tuple(sorted(out, key=lambda f: (f.name, OPERATORS.index(f.op))))


def matches(item: pystac.Item | Mapping[str, Any], filters: Sequence[PropertyFilter]) -> bool:
    """Whether a STAC item (object or dict) satisfies every filter."""
    props = item.properties if isinstance(item, pystac.Item) else item.get("properties", {})
    return all(f.test(props) for f in filters)


def _query_body(filters: Sequence[PropertyFilter]) -> dict[str, dict[str, Any]]:
    body: dict[str, dict[str, Any]] = {}
    for f in filters:
        body.setdefault(f.name, {})[f.op] = list(f.value) if f.op == "in" else f.value
    return body


def _cql2_body(filters: Sequence[PropertyFilter]) -> dict[str, Any]:
    args = [
        {
            "op": _CQL2_OPS[f.op],
            "args": [{"property": f.name}, list(f.value) if f.op == "in" else f.value],
        }
        for f in filters
    ]
    return args[0] if len(args) == 1 else {"op": "and", "args": args}


def server_filter_mode(client: Client) -> Literal["query", "filter", "none"]:
    """How property filters can be sent to this API: Query extension, CQL2-JSON, or not at all."""
    if client.conforms_to(ConformanceClasses.QUERY):
        return "query"
    if client.conforms_to(ConformanceClasses.FILTER) and _CQL2_JSON in client.get_conforms_to():
        return "filter"
    return "none"


def _search_method(client: Client) -> str:
    """POST when the API advertises it (bodies carry geometry and filters better), else GET."""
    methods = {
        (link.extra_fields.get("method") or "GET").upper()
        for link in client.get_links("search")
    }
    return "POST" if "POST" in methods or not methods else "GET"


def _parse_time(value: Any) -> dt.datetime:
    if isinstance(value, str):
        try:
            return pystac.utils.str_to_datetime(value)
        except ValueError:
            pass
    return dt.datetime.max.replace(tzinfo=dt.UTC)


def item_sort_key(item: pystac.Item) -> tuple[dt.datetime, str]:
    """Deterministic order: (datetime or start_datetime, id); undated items last."""
    when = item.datetime
    if when is None:
        when = _parse_time(item.properties.get("start_datetime"))
    elif when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when, item.id


def _normalize_collections(collections: str | Sequence[str] | None) -> list[str] | None:
    if collections is None:
        return None
    if isinstance(collections, str):
        return [collections]
    out = list(collections)
    if not all(isinstance(c, str) and c for c in out):
        raise SpecError(f"collections must be non-empty strings, got {collections!r}")
    return out or None


def _normalize_bbox(bbox: Sequence[float] | None) -> list[float] | None:
    if bbox is None:
        return None
    values = [float(v) for v in bbox]
    if len(values) != 4:
        raise SpecError(f"bbox must be (west, south, east, north) in degrees, got {bbox!r}")
    west, south, east, north = values
    if not (-90 <= south <= north <= 90 and -180 <= west <= 180 and -180 <= east <= 180):
        raise SpecError(f"bbox must be (west, south, east, north) in EPSG:4326, got {bbox!r}")
    return values


def search_items(
    url: str,
    collections: str | Sequence[str] | None,
    *,
    intersects: BaseGeometry | Mapping[str, Any] | None = None,
    bbox: Sequence[float] | None = None,
    datetime: DatetimeLike | None = None,
    filters: Mapping[str, Mapping[str, Any]] | None = None,
    max_items: int | None = None,
    page_size: int = 100,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    modifier: Modifier | None = None,
    headers: dict[str, str] | None = None,
) -> list[pystac.Item]:
    """Search the STAC API at ``url`` and return the matching items sorted by (datetime, id).

    Args:
        url: root of a STAC API (see the module docstring for ones that work unchanged).
        collections: collection id(s); None searches every collection.
        intersects: area as a shapely geometry (or GeoJSON dict) in EPSG:4326.
        bbox: (west, south, east, north) in EPSG:4326; give ``intersects`` or ``bbox``.
        datetime: ``"2022-01-01/2022-06-30"``, one instant, or a (start, end) tuple.
        filters: property conditions, e.g. ``{"eo:cloud_cover": {"lt": 30}}``; operators
            lt/lte/gt/gte/eq/neq/in. Sent to the server only when it advertises the Query or
            Filter extension, and always re-checked on every returned item.
        max_items: stop once this many *matching* items were collected (in server order,
            before sorting); None collects all.
        page_size: items per page requested from the server (``limit``); ``next`` links are
            followed until the results are exhausted.
        timeout: seconds for connecting and for each read.
        retries: retries of a request after a 5xx/429, connection error or timeout.
        backoff: exponential backoff factor in seconds (waits 0, 2b, 4b, ... between tries).
        modifier: callable that mutates each *matching* :class:`pystac.Item` in place before
            it is returned, e.g. Planetary Computer's ``planetary_computer.sign_inplace`` to
            sign asset hrefs. (Called here on Items, not by pystac-client, which would call
            it on whole page dicts.)
        headers: extra HTTP headers (e.g. an authorisation token).

    Raises:
        SpecError: invalid arguments (both bbox and intersects, unknown filter operator, ...).
        UnknownCollectionError: a collection in ``collections`` is not in the API (checked
            once, here, before searching; an API without Collections/Features endpoints
            cannot be checked and is searched as it is).
        SourceUnavailableError: the API could not be reached, or kept answering 5xx or timing
            out, after ``retries`` retries.
        SourceError: the API rejected the search (4xx, message included) or is not a STAC API.
    """
    if intersects is not None and bbox is not None:
        raise SpecError("give either intersects or bbox to search_items, not both")
    if page_size < 1:
        raise SpecError(f"page_size must be >= 1, got {page_size}")
    if max_items is not None and max_items < 0:
        raise SpecError(f"max_items must be >= 0 or None, got {max_items}")
    conditions = normalize_filters(filters)
    collection_ids = _normalize_collections(collections)
    bbox_list = _normalize_bbox(bbox)
    geometry: dict[str, Any] | None = None
    if intersects is not None:
        geometry = dict(mapping(intersects)) if isinstance(intersects, BaseGeometry) else dict(
            intersects
        )
    if max_items == 0:
        return []

    client = open_client(url, timeout=timeout, retries=retries, backoff=backoff, headers=headers)
    try:
        mode = server_filter_mode(client) if conditions else "none"
        server_side: dict[str, Any] = {}
        if mode == "query":
            server_side["query"] = _query_body(conditions)
        elif mode == "filter":
            server_side["filter"] = _cql2_body(conditions)
            server_side["filter_lang"] = "cql2-json"
        limit = page_size
        if max_items is not None and (not conditions or mode != "none"):
            limit = min(page_size, max_items)

        if collection_ids is not None:
            _check_collections(client, url, collection_ids, retries=retries, timeout=timeout)
        method = _search_method(client)
        # stac_errors for DoesNotConformTo (no item-search); nothing is fetched yet
        with stac_errors(url, retries=retries, timeout=timeout), warnings.catch_warnings():
            # conformance is checked above; pystac-client's own warnings are noise here
            warnings.simplefilter("ignore", PystacClientWarning)
            try:
                search = client.search(
                    method=method,
                    collections=collection_ids,
                    bbox=bbox_list,
                    intersects=geometry,
                    datetime=datetime,
                    limit=limit,
                    **server_side,
                )
            except Exception as e:
                # pystac-client refuses bad arguments (e.g. a datetime) with plain Exception
                # or ValueError; anything else is not ours to reword
                if type(e) is not Exception and type(e) is not ValueError:
                    raise
                raise SpecError(f"invalid search arguments for {url}: {e}") from e

        found: list[pystac.Item] = []
        seen: set[tuple[str | None, str]] = set()
        # only fetching and parsing pages is the server's business: rs's own filtering below
        # runs outside stac_errors, so a bug in it surfaces as itself
        for item in _server_items(search, url, retries=retries, timeout=timeout):
            key = (item.collection_id, item.id)
            if key in seen or not matches(item, conditions):
                continue
            seen.add(key)
            found.append(item)
            if max_items is not None and len(found) >= max_items:
                break
    finally:
        close_client(client)
    if modifier is not None:  # outside stac_errors: a bug in it is not the server's fault
        for item in found:
            modifier(item)
    found.sort(key=item_sort_key)
    return found


def list_collections(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    headers: dict[str, str] | None = None,
) -> list[str]:
    """Sorted ids of the collections the STAC API at ``url`` lists under ``/collections``."""
    client = open_client(url, timeout=timeout, retries=retries, backoff=backoff, headers=headers)
    try:
        with stac_errors(url, retries=retries, timeout=timeout), warnings.catch_warnings():
            warnings.simplefilter("ignore", PystacClientWarning)
            return sorted(c.id for c in client.get_collections())
    finally:
        close_client(client)


def _server_items(search: Any, url: str, *, retries: int, timeout: float) -> Iterator[pystac.Item]:
    """``search.items()``, with only the fetching and parsing of each item under stac_errors."""
    pages = iter(search.items())  # a generator: nothing is fetched until next()
    while True:
        with stac_errors(url, retries=retries, timeout=timeout), warnings.catch_warnings():
            warnings.simplefilter("ignore", PystacClientWarning)
            try:
                item = next(pages)
            except StopIteration:
                return
        yield item


def _check_collections(
    client: Client, url: str, collections: Sequence[str], *, retries: int, timeout: float
) -> None:
    """Raise :class:`UnknownCollectionError` naming the ids of ``collections`` not in the API.

    Asks ``GET /collections/{id}`` for each id (a 404 means missing), then lists
    ``/collections`` for the message. An API that advertises neither the Collections nor the
    Features conformance class has no such endpoints: nothing is checked then.
    """
    if not (
        client.conforms_to(ConformanceClasses.COLLECTIONS)
        or client.conforms_to(ConformanceClasses.FEATURES)
    ):
        return
    with stac_errors(url, retries=retries, timeout=timeout), warnings.catch_warnings():
        warnings.simplefilter("ignore", PystacClientWarning)
        missing = [cid for cid in dict.fromkeys(collections) if client.get_collection(cid) is None]
        if not missing:
            return
        available = sorted(c.id for c in client.get_collections())
    names = ", ".join(repr(c) for c in missing)
    listed = ", ".join(available) if available else "(none)"
    hint = ""
    for cid in missing:
        close = [a for a in available if cid.casefold() in a.casefold()
                 or a.casefold() in cid.casefold()]
        if close:
            hint = f" Did you mean {close[0]!r} instead of {cid!r}?"
            break
    raise UnknownCollectionError(
        f"STAC API {url} has no collection {names}; it has: {listed}. "
        f"Fix the source's `collections` (ids are case-sensitive).{hint}"
    )
