"""``rs publish``: an output folder's items into a shared STAC catalogue (pgstac).

One map for every product: the output items of any number of pipelines and machines go into
one PostgreSQL database with pgstac (https://github.com/stac-utils/pgstac), which a STAC API
(stac-fastapi-pgstac) serves to analysts, STAC Browser and QGIS.

- **One collection per pipeline**, ``rs-<pipeline>`` (the items' ``rs:pipeline``): a pipeline
  is the unit analysts know (the demo, the red-line survey), its steps are told apart by the
  items' ``rs:step`` / ``rs:kind`` (listed in the collection's ``summaries``, searchable
  through the API's filter). The collection's extent is computed by the database from every
  item it holds after the load, so items published earlier from other folders count too.
- **Hrefs** become absolute: asset files ``file:///...`` of the folder, or
  ``<href_base>/<path inside the folder>`` when the folder is shared by a file server
  (``--href-base https://server/outputs/``). ``derived_from`` links point at the upstream
  item in the same collection (relative to the API root, which the API resolves); the
  folder's ``root`` / ``parent`` links are dropped (the API makes its own).
- **Idempotent**: items are loaded with pypgstac's Loader in ``upsert`` mode, which rewrites a
  row only when it differs. Publishing the same folder twice changes nothing; a rebuilt item
  (same id, new content) replaces the old row; nothing is ever duplicated. Items deleted from
  the folder stay in the catalogue.
- **Credentials** in the DSN are never shown: every message carries :func:`redact_dsn`.

Errors: the database unreachable or refusing the login is a :class:`CatalogUnavailableError`
(exit 3, retry later); a database without pgstac, or with a pgstac version other than the
installed pypgstac's, is a :class:`CatalogNotReadyError` (exit 3; the message says to run
``pypgstac migrate`` or pass ``--migrate``); a folder that is not an rs output folder is a
:class:`NotAnOutputError` (exit 2).
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from rs.errors import LocalSourceError, RsError, SourceError, SourceUnavailableError

__all__ = [
    "COLLECTION_PREFIX",
    "CatalogNotReadyError",
    "CatalogUnavailableError",
    "CollectionResult",
    "NotAnOutputError",
    "catalog_items",
    "collection_id",
    "publish",
    "read_output",
    "redact_dsn",
]

COLLECTION_PREFIX = "rs-"
_DROPPED_RELS = {"root", "parent", "self", "collection"}
_CONNECT_TIMEOUT_S = 10


class CatalogUnavailableError(SourceUnavailableError):
    """The catalogue database cannot be reached or refuses the login (exit 3)."""


class CatalogNotReadyError(SourceError):
    """The database has no pgstac, or a pgstac version the installed pypgstac cannot load
    into (exit 3): run ``pypgstac migrate`` or ``rs publish --migrate``."""


class NotAnOutputError(LocalSourceError):
    """The folder given to ``rs publish`` is not an rs output folder (exit 2)."""


@dataclass(frozen=True)
class CollectionResult:
    """What one publish did to one collection."""

    collection: str
    new: int
    updated: int
    unchanged: int

    @property
    def items(self) -> int:
        return self.new + self.updated + self.unchanged


# postgresql://user:password@host -> postgresql://user:***@host; password=... in key=value form
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*):[^/@\s]*@")
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def redact_dsn(text: str, dsn: str | None = None) -> str:
    """``text`` with the password of every URL and ``password=`` field masked (``***``); with
    ``dsn``, also any literal occurrence of that DSN's password."""
    out = _URL_PASSWORD.sub(r"\g<head>:***@", text)
    out = _KV_PASSWORD.sub(r"\g<head>***", out)
    if dsn:
        pw = urlsplit(dsn).password if "://" in dsn else None
        if pw:
            out = out.replace(pw, "***")
    return out


def collection_id(pipeline: str) -> str:
    """The collection of a pipeline's items: ``rs-<pipeline>``."""
    return f"{COLLECTION_PREFIX}{pipeline}"


def read_output(out_dir: Path) -> list[dict[str, Any]]:
    """Every item of the rs output folder ``out_dir`` (``catalog.json`` + ``items/*.json``),
    sorted by id; a folder without them, or an item that is not rs's, is a NotAnOutputError."""
    out_dir = Path(out_dir)
    items_dir = out_dir / "items"
    if not (out_dir / "catalog.json").is_file() or not items_dir.is_dir():
        raise NotAnOutputError(
            f"{out_dir} is not an rs output folder (no catalog.json and items/): give the "
            "folder a spec's `output` names, after `rs run`"
        )
    items = []
    for p in sorted(items_dir.glob("*.json")):
        try:
            item = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise NotAnOutputError(f"cannot read the output item {p}: {e}") from e
        if not isinstance(item, dict) or item.get("type") != "Feature" or not isinstance(
            item.get("properties", {}).get("rs:pipeline"), str
        ):
            raise NotAnOutputError(f"{p} is not an rs output item (no rs:pipeline)")
        items.append(item)
    if not items:
        raise NotAnOutputError(f"{out_dir} has no output items yet: run its pipeline first")
    return sorted(items, key=lambda i: str(i["id"]))


def _file_url(path: Path, out_dir: Path, href_base: str | None) -> str:
    if href_base is not None:
        try:
            rel = path.relative_to(out_dir)
        except ValueError:
            return path.as_uri()
        return href_base.rstrip("/") + "/" + quote(rel.as_posix())
    return path.as_uri()


def _absolute(href: str, items_dir: Path, out_dir: Path, href_base: str | None) -> str:
    """A URL stays; a path (relative to the item, or absolute) becomes a file or base URL."""
    if urlsplit(href).scheme:
        return href
    return _file_url(Path(os.path.normpath(items_dir / href)), out_dir, href_base)


def catalog_items(
    items: Sequence[Mapping[str, Any]], out_dir: Path, *, href_base: str | None = None
) -> Iterator[dict[str, Any]]:
    """The items as the catalogue holds them: ``collection`` set, hrefs absolute, the folder's
    own links dropped, ``derived_from`` pointing at the upstream item in the API."""
    out_dir = Path(os.path.normpath(Path(out_dir).absolute()))
    items_dir = out_dir / "items"
    for src in items:
        item = copy.deepcopy(dict(src))
        coll = collection_id(item["properties"]["rs:pipeline"])
        item["collection"] = coll
        for asset in item.get("assets", {}).values():
            asset["href"] = _absolute(asset["href"], items_dir, out_dir, href_base)
        links = []
        for link in item.get("links", []):
            rel, href = link.get("rel"), str(link.get("href", ""))
            if rel in _DROPPED_RELS:
                continue
            if rel == "derived_from" and not urlsplit(href).scheme:
                upstream = Path(href).name.removesuffix(".json")
                link = {**link, "href": f"collections/{quote(coll)}/items/{quote(upstream)}"}
            elif not urlsplit(href).scheme:
                link = {**link, "href": _absolute(href, items_dir, out_dir, href_base)}
            links.append(link)
        item["links"] = links
        yield item


def _collection(coll: str, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The collection of ``items`` (one pipeline); its extent from the items' bboxes and times
    (replaced by the database's after the load)."""
    props = [i["properties"] for i in items]
    pipeline = props[0]["rs:pipeline"]
    steps = sorted({str(p.get("rs:step")) for p in props if p.get("rs:step")})
    kinds = sorted({str(p.get("rs:kind")) for p in props if p.get("rs:kind")})
    boxes = [i["bbox"] for i in items if i.get("bbox")]
    bbox = [min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes)] if boxes else [-180, -90, 180, 90]
    starts = [p.get("start_datetime") or p.get("datetime") for p in props]
    ends = [p.get("end_datetime") or p.get("datetime") for p in props]
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": coll,
        "title": f"rs pipeline {pipeline}",
        "description": (
            f"Products of the rs pipeline `{pipeline}`: steps {', '.join(steps) or '-'} "
            f"(kinds {', '.join(kinds) or '-'}). One item per step and period."
        ),
        "license": "other",
        "keywords": ["rs", pipeline, *kinds],
        "extent": {
            "spatial": {"bbox": [bbox]},
            "temporal": {"interval": [[min(s for s in starts if s), max(e for e in ends if e)]]},
        },
        "summaries": {"rs:step": steps, "rs:kind": kinds},
        "links": [],
    }


def publish(
    out_dir: Path,
    dsn: str,
    *,
    href_base: str | None = None,
    migrate: bool = False,
) -> list[CollectionResult]:
    """Upsert every item of ``out_dir`` into the pgstac database at ``dsn``; one
    :class:`CollectionResult` per collection (pipeline), sorted by collection id."""
    items = read_output(out_dir)
    by_pipeline: dict[str, list[dict[str, Any]]] = {}
    for item in catalog_items(items, out_dir, href_base=href_base):
        by_pipeline.setdefault(item["collection"], []).append(item)
    with _pgstac(dsn, migrate=migrate) as (db, conn):
        import psycopg
        from pypgstac.load import Loader, Methods

        loader = Loader(db)
        results = []
        for coll, coll_items in sorted(by_pipeline.items()):
            try:
                # a new collection first (the loader needs it); an existing one is kept
                loader.load_collections(iter([_collection(coll, coll_items)]), Methods.ignore)
                ids = [i["id"] for i in coll_items]
                before = _row_digests(conn, coll, ids)
                loader.load_items(iter(coll_items), Methods.upsert)
                after = _row_digests(conn, coll, ids)
                _update_collection(conn, _collection(coll, coll_items))
            except psycopg.OperationalError:
                raise  # the connection went: CatalogUnavailableError below
            except Exception as e:  # psycopg / pypgstac errors: the message, redacted
                # not chained (`from None`): the cause could show the DSN in a traceback
                raise RsError(
                    f"loading into collection {coll} at {redact_dsn(dsn)} failed: "
                    f"{redact_dsn(str(e), dsn)}"
                ) from None
            new = sum(1 for i in ids if i not in before)
            updated = sum(1 for i in ids if i in before and before[i] != after.get(i))
            results.append(CollectionResult(coll, new, updated, len(ids) - new - updated))
    return results


def _row_digests(conn: Any, coll: str, ids: Sequence[str]) -> dict[str, str]:
    rows = conn.execute(
        "SELECT id, md5(concat_ws('|', content::text, geometry::text, datetime::text, "
        "end_datetime::text)) FROM pgstac.items WHERE collection = %s AND id = ANY(%s)",
        (coll, list(ids)),
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def _update_collection(conn: Any, collection: dict[str, Any]) -> None:
    """The collection with the extent of every item the database holds in it; written only
    when it differs (a second publish leaves the row alone)."""
    row = conn.execute(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), t0, t1 FROM ("
        " SELECT ST_Extent(geometry)::geometry AS e, min(datetime) AS t0,"
        " max(end_datetime) AS t1 FROM pgstac.items WHERE collection = %s) s",
        (collection["id"],),
    ).fetchone()
    if row is not None and row[0] is not None:
        x0, y0, x1, y1, t0, t1 = row
        collection["extent"] = {
            "spatial": {"bbox": [[x0, y0, x1, y1]]},
            "temporal": {"interval": [[_iso(t0), _iso(t1)]]},
        }
    content = json.dumps(collection, sort_keys=True)
    conn.execute(
        "UPDATE pgstac.collections SET content = %s::jsonb "
        "WHERE id = %s AND content IS DISTINCT FROM %s::jsonb",
        (content, collection["id"], content),
    )


def _iso(t: Any) -> str:
    return str(t.isoformat().replace("+00:00", "Z"))


@contextmanager
def _pgstac(dsn: str, *, migrate: bool) -> Iterator[tuple[Any, Any]]:
    """A pypgstac PgstacDB on one connection to ``dsn`` (no pool: a dead database fails in
    seconds, not after the pool's timeout), pgstac present and of the loader's version."""
    try:
        import psycopg
        from psycopg_pool import ConnectionPool
        from pypgstac import __version__ as pypgstac_version
        from pypgstac.db import PgstacDB
        from pypgstac.migrate import Migrate
    except ImportError as e:
        raise RsError(
            "rs publish needs pypgstac: pip install 'rs[catalog]' (pypgstac[psycopg])"
        ) from e
    shown = redact_dsn(dsn)
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S)
    except (psycopg.Error, ValueError) as e:
        raise CatalogUnavailableError(
            f"cannot connect to the catalogue database {shown}: "
            f"{' '.join(redact_dsn(str(e), dsn).split())}; check that PostgreSQL runs there "
            "and that the user, password and database name are right"
        ) from None
    try:
        conn.execute("SET search_path TO pgstac, public")
        # the pool is never opened: PgstacDB uses the connection given
        db = PgstacDB(dsn, pool=ConnectionPool(dsn, open=False), connection=conn)
        version = _pgstac_version(conn)
        want = ".".join(pypgstac_version.split(".")[:2])
        if version is None or ".".join(version.split(".")[:2]) != want:
            if not migrate:
                have = "no pgstac schema" if version is None else f"pgstac {version}"
                raise CatalogNotReadyError(
                    f"the database {shown} has {have}, the loader needs pgstac "
                    f"{pypgstac_version}: run `pypgstac migrate --dsn {shown}` (with the real "
                    "password) or pass --migrate; it needs the PostGIS extension "
                    "(CREATE EXTENSION postgis) and rights to create a schema"
                )
            try:
                Migrate(db).run_migration()
            except Exception as e:
                raise CatalogNotReadyError(
                    f"migrating pgstac in {shown} failed: {redact_dsn(str(e), dsn)}; "
                    "the database needs the PostGIS extension (CREATE EXTENSION postgis)"
                ) from None
        yield db, conn
    except psycopg.OperationalError as e:
        raise CatalogUnavailableError(
            f"lost the catalogue database {shown}: {redact_dsn(str(e), dsn)}"
        ) from None
    finally:
        conn.close()


def _pgstac_version(conn: Any) -> str | None:
    import psycopg

    try:
        row = conn.execute(
            "SELECT version FROM pgstac.migrations ORDER BY datetime DESC, version DESC LIMIT 1"
        ).fetchone()
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
        return None
    return None if row is None else str(row[0])
