"""rs.sources.stac against real servers on 127.0.0.1: rustac serve and a scripted http.server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pystac
import pytest
import requests
from shapely.geometry import Point, box

from rs.errors import (
    SourceError,
    SourceUnavailableError,
    SpecError,
    UnknownCollectionError,
    exit_code_for,
)
from rs.sources import stac
from rs.sources.local import EmbeddedStacApi, build_api_files, free_port
from rs.sources.stac import (
    PropertyFilter,
    list_collections,
    matches,
    normalize_filters,
    search_items,
)
from tests._servers import (
    FakeStacApi,
    Route,
    TileSpec,
    feature_collection,
    make_world,
    stub_item,
    tile_bounds_4326,
)

# Seven tiles 1 km apart along x; dates deliberately not in index order.
SPECS = [
    TileSpec(0, "20220405", 5.0),
    TileSpec(1, "20220401", 50.0, "sentinel-2a"),
    TileSpec(2, "20220403", 12.0),
    TileSpec(3, "20220402", 80.0),
    TileSpec(4, "20220407", 29.9, "sentinel-2a"),
    TileSpec(5, "20220406", 30.0),
    TileSpec(6, "20220404", 0.0),
]
FAST: dict[str, Any] = {"timeout": 5.0, "retries": 1, "backoff": 0.0}


def ids_sorted_by_date(specs: list[TileSpec]) -> list[str]:
    return [s.item_id for s in sorted(specs, key=lambda s: (s.datetime, s.item_id))]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("world")
    make_world(root, SPECS)
    files = build_api_files([root], tmp_path_factory.mktemp("api"))
    with EmbeddedStacApi(files) as server:
        yield server


# --------------------------------------------------------------------------- rustac serve


def test_search_items__all_items_sorted_by_datetime_then_id(api: EmbeddedStacApi) -> None:
    items = search_items(api.url, "sentinel-2-l2a", **FAST)
    assert [it.id for it in items] == ids_sorted_by_date(SPECS)


def test_search_items__bbox_restricts_to_tiles_inside(api: EmbeddedStacApi) -> None:
    boxes = [tile_bounds_4326(i) for i in (0, 1, 2)]
    bbox = (
        min(b[0] for b in boxes) - 0.001, min(b[1] for b in boxes) - 0.001,
        max(b[2] for b in boxes) + 0.001, max(b[3] for b in boxes) + 0.001,
    )
    items = search_items(api.url, ["sentinel-2-l2a"], bbox=bbox, **FAST)
    assert [it.id for it in items] == ids_sorted_by_date([SPECS[0], SPECS[1], SPECS[2]])


def test_search_items__intersects_point_geometry_finds_one_tile(api: EmbeddedStacApi) -> None:
    west, south, east, north = tile_bounds_4326(4)
    centre = Point((west + east) / 2, (south + north) / 2).buffer(0.0001)
    items = search_items(api.url, "sentinel-2-l2a", intersects=centre, **FAST)
    assert [it.id for it in items] == [SPECS[4].item_id]


def test_search_items__datetime_range_restricts(api: EmbeddedStacApi) -> None:
    items = search_items(
        api.url, "sentinel-2-l2a", datetime="2022-04-02T00:00:00Z/2022-04-04T23:59:59Z", **FAST
    )
    assert [it.id for it in items] == ids_sorted_by_date([SPECS[3], SPECS[2], SPECS[6]])


def test_search_items__datetime_tuple_and_bbox_combine(api: EmbeddedStacApi) -> None:
    west, south, east, north = tile_bounds_4326(6)
    far = box(west, south, east, north)
    hit = search_items(api.url, "sentinel-2-l2a", intersects=far,
                       datetime=("2022-04-04T00:00:00Z", "2022-04-05T00:00:00Z"), **FAST)
    miss = search_items(api.url, "sentinel-2-l2a", intersects=far,
                        datetime=("2022-04-05T00:00:00Z", None), **FAST)
    assert [it.id for it in hit] == [SPECS[6].item_id]
    assert miss == []


def test_search_items__paging_page_size_2_returns_all_7_once(api: EmbeddedStacApi) -> None:
    # the server honours limit, so 7 items need 4 pages
    page = requests.get(f"{api.url}/search", params={"limit": 2}, timeout=5).json()
    assert len(page["features"]) == 2
    assert any(link["rel"] == "next" for link in page["links"])

    items = search_items(api.url, "sentinel-2-l2a", page_size=2, **FAST)
    ids = [it.id for it in items]
    assert len(ids) == 7
    assert sorted(ids) == sorted(s.item_id for s in SPECS)


def test_search_items__cloud_filter_applied_client_side_without_query_ext(
    api: EmbeddedStacApi,
) -> None:
    items = search_items(
        api.url, "sentinel-2-l2a", filters={"eo:cloud_cover": {"lt": 30}}, page_size=2, **FAST
    )
    expected = [s for s in SPECS if s.cloud < 30]
    assert [it.id for it in items] == ids_sorted_by_date(expected)
    assert {it.properties["eo:cloud_cover"] for it in items} == {5.0, 12.0, 29.9, 0.0}


def test_search_items__several_operators_combine(api: EmbeddedStacApi) -> None:
    items = search_items(
        api.url, "sentinel-2-l2a",
        filters={"eo:cloud_cover": {"gte": 5, "lte": 50}, "platform": {"in": ["sentinel-2a"]}},
        **FAST,
    )
    assert [it.id for it in items] == ids_sorted_by_date([SPECS[1], SPECS[4]])


def test_search_items__max_items_counts_matching_items(api: EmbeddedStacApi) -> None:
    items = search_items(
        api.url, "sentinel-2-l2a", filters={"eo:cloud_cover": {"neq": 80}}, max_items=3,
        page_size=2, **FAST,
    )
    assert len(items) == 3
    assert all(it.properties["eo:cloud_cover"] != 80 for it in items)


def test_search_items__asset_hrefs_are_file_uris_of_existing_files(api: EmbeddedStacApi) -> None:
    items = search_items(api.url, "sentinel-2-l2a", **FAST)
    hrefs = [a.href for it in items for a in it.assets.values()]
    assert len(hrefs) == 14
    assert all(h.startswith("file://") for h in hrefs)
    assert all(Path(h.removeprefix("file://")).is_file() for h in hrefs)
    assert all(it.properties["proj:code"] == "EPSG:32650" for it in items)


def test_search_items__unknown_collection_names_it_and_lists_the_apis(
    api: EmbeddedStacApi,
) -> None:
    with pytest.raises(UnknownCollectionError) as info:
        search_items(api.url, "landsat-c2-l2", **FAST)
    message = str(info.value)
    assert "no collection 'landsat-c2-l2'" in message
    assert "it has: sentinel-2-l2a" in message
    assert exit_code_for(info.value) == 2


def test_search_items__one_of_two_collections_missing_is_refused(api: EmbeddedStacApi) -> None:
    with pytest.raises(UnknownCollectionError) as info:
        search_items(api.url, ["sentinel-2-l2a", "Sentinel-2-L2A"], **FAST)
    assert "no collection 'Sentinel-2-L2A'" in str(info.value)
    assert "Did you mean 'sentinel-2-l2a'" in str(info.value)


def test_search_items__checks_collections_known_passes_unknown_raises(
    api: EmbeddedStacApi,
) -> None:
    assert search_items(api.url, ["sentinel-2-l2a"], max_items=1, timeout=5, retries=1)
    with pytest.raises(UnknownCollectionError, match="no collection 'sentinel-1-grd'") as info:
        search_items(api.url, "sentinel-1-grd", timeout=5, retries=1)
    assert "Fix the source's `collections`" in str(info.value)


def test_search_items__api_without_collections_endpoint_is_not_checked() -> None:
    with FakeStacApi() as fake:  # advertises core + item-search only: no /collections
        assert search_items(fake.url, ["c"], timeout=5, retries=0) == []
    assert fake.hits["/collections/c"] == 0 and fake.hits["/collections"] == 0
    assert fake.hits["/search"] == 1


def test_search_items__asks_for_each_collection_once() -> None:
    with FakeStacApi(conforms_to=[
        "https://api.stacspec.org/v1.0.0/core",
        "https://api.stacspec.org/v1.0.0/item-search",
        "https://api.stacspec.org/v1.0.0/collections",
    ]) as fake:
        fake.routes["/collections/c"] = Route(final=lambda api: (200, {
            "type": "Collection", "stac_version": "1.1.0", "id": "c", "description": "c",
            "license": "other", "links": [],
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                       "temporal": {"interval": [[None, None]]}},
        }, {}))
        assert search_items(fake.url, ["c", "c"], timeout=5, retries=0) == []
    assert fake.hits["/collections/c"] == 1
    assert fake.hits["/search"] == 1


def test_list_collections__lists_the_served_collection(api: EmbeddedStacApi) -> None:
    assert list_collections(api.url, **FAST) == ["sentinel-2-l2a"]


def test_search_items__modifier_sees_every_item(api: EmbeddedStacApi) -> None:
    def sign(item: pystac.Item) -> None:
        for asset in item.assets.values():
            asset.href += "?signed=1"

    items = search_items(api.url, "sentinel-2-l2a", modifier=sign, **FAST)
    assert items
    assert all(a.href.endswith("?signed=1") for it in items for a in it.assets.values())


# --------------------------------------------------------------------------- retries & errors


def test_search_items__retries_503_twice_then_succeeds() -> None:
    with FakeStacApi() as fake:
        fake.routes["/search"] = Route(
            script=[(503, {"description": "busy"}, {}), (503, {"description": "busy"}, {})],
            final=lambda api: (200, feature_collection([stub_item("a", 10.0)]), {}),
        )
        items = search_items(fake.url, "c", timeout=5, retries=3, backoff=0.001)
    assert [it.id for it in items] == ["a"]
    assert fake.hits["/search"] == 3


def test_search_items__always_503_raises_unavailable_after_retries() -> None:
    with FakeStacApi() as fake:
        fake.routes["/search"] = Route(final=lambda api: (503, {"description": "overloaded"}, {}))
        with pytest.raises(SourceUnavailableError) as info:
            search_items(fake.url, "c", timeout=5, retries=2, backoff=0.001)
    assert fake.hits["/search"] == 3
    assert fake.url in str(info.value)
    assert "503" in str(info.value)
    assert "overloaded" in str(info.value)


def test_search_items__landing_page_503_raises_unavailable() -> None:
    with FakeStacApi() as fake:
        fake.routes["/"] = Route(final=lambda api: (502, b"bad gateway", {}))
        with pytest.raises(SourceUnavailableError):
            search_items(fake.url, "c", timeout=5, retries=1, backoff=0.0)
    assert fake.hits["/"] == 2


def test_search_items__closed_port_raises_unavailable_naming_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SourceUnavailableError) as info:
        search_items(url, "c", timeout=2, retries=2, backoff=0.001)
    assert url in str(info.value)
    assert "server is running" in str(info.value)


def test_search_items__timeout_is_retried_then_unavailable() -> None:
    with FakeStacApi() as fake:
        fake.routes["/search"] = Route(
            final=lambda api: (200, feature_collection([]), {}), delay=5.0
        )
        with pytest.raises(SourceUnavailableError) as info:
            search_items(fake.url, "c", timeout=0.3, retries=1, backoff=0.0)
    assert fake.hits["/search"] == 2
    assert "timed out" in str(info.value)


def test_search_items__4xx_raises_source_error_with_server_message() -> None:
    with FakeStacApi() as fake:
        fake.routes["/search"] = Route(
            final=lambda api: (400, {"code": "BadRequest", "description": "bbox is bogus"}, {})
        )
        with pytest.raises(SourceError) as info:
            search_items(fake.url, "c", timeout=5, retries=3, backoff=0.001)
    assert not isinstance(info.value, SourceUnavailableError)
    assert "bbox is bogus" in str(info.value)
    assert "400" in str(info.value)
    assert fake.hits["/search"] == 1  # 4xx is not retried


def test_search_items__bug_in_client_side_filtering_propagates_as_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def buggy_matches(item: Any, filters: Any) -> bool:
        raise KeyError("rs bug")

    monkeypatch.setattr(stac, "matches", buggy_matches)
    with FakeStacApi() as fake:
        fake.routes["/search"] = Route(
            final=lambda api: (200, feature_collection([stub_item("a", 10.0)]), {})
        )
        with pytest.raises(KeyError, match="rs bug") as info:
            search_items(fake.url, "c", filters={"eo:cloud_cover": {"lt": 50}}, **FAST)
    assert not isinstance(info.value, SourceError)


def test_search_items__unparsable_item_from_server_is_source_error() -> None:
    bad = stub_item("a", 10.0)
    bad["properties"]["datetime"] = "not a date"
    with FakeStacApi() as fake:
        fake.routes["/search"] = Route(final=lambda api: (200, feature_collection([bad]), {}))
        with pytest.raises(SourceError, match="answered with something unusable"):
            search_items(fake.url, "c", **FAST)


def test_search_items__invalid_datetime_argument_is_spec_error() -> None:
    with FakeStacApi() as fake, pytest.raises(SpecError, match="invalid search arguments"):
        search_items(fake.url, "c", datetime="someday", **FAST)
    assert fake.hits["/search"] == 0


def test_search_items__not_a_stac_api_raises_source_error() -> None:
    core_only = ["https://api.stacspec.org/v1.0.0/core"]
    with FakeStacApi(conforms_to=core_only) as fake, pytest.raises(SourceError) as info:
        search_items(fake.url, "c", **FAST)
    assert "item-search" in str(info.value)


def test_search_items__query_sent_when_advertised_and_rechecked_client_side() -> None:
    conforms = [
        "https://api.stacspec.org/v1.0.0/core",
        "https://api.stacspec.org/v1.0.0/item-search",
        "https://api.stacspec.org/v1.0.0/item-search#query",
    ]
    with FakeStacApi(conforms_to=conforms) as fake:
        # a sloppy server that accepts the query but ignores it; one item lacks the property
        fake.routes["/search"] = Route(final=lambda api: (200, feature_collection([
            stub_item("cloudy", 90.0, 1),
            stub_item("clear", 10.0, 2),
            {**stub_item("nocloud", 0, 3), "properties": {"datetime": "2022-01-03T00:00:00Z"}},
        ]), {}))
        items = search_items(fake.url, "c", filters={"eo:cloud_cover": {"lt": 30}}, **FAST)
    assert [it.id for it in items] == ["clear"]
    assert fake.bodies[-1]["query"] == {"eo:cloud_cover": {"lt": 30}}


def test_search_items__filter_not_sent_when_not_advertised() -> None:
    with FakeStacApi() as fake:
        fake.routes["/search"] = Route(
            final=lambda api: (200, feature_collection([stub_item("clear", 10.0)]), {})
        )
        items = search_items(fake.url, "c", filters={"eo:cloud_cover": {"lt": 30}}, **FAST)
    assert [it.id for it in items] == ["clear"]
    assert "query" not in fake.bodies[-1]
    assert "filter" not in fake.bodies[-1]


def test_search_items__cql2_filter_sent_when_only_filter_advertised() -> None:
    conforms = [
        "https://api.stacspec.org/v1.0.0/core",
        "https://api.stacspec.org/v1.0.0/item-search",
        "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    ]
    with FakeStacApi(conforms_to=conforms) as fake:
        search_items(fake.url, "c", filters={"eo:cloud_cover": {"lt": 30, "gte": 1}}, **FAST)
    body = fake.bodies[-1]
    assert "query" not in body
    assert body["filter-lang"] == "cql2-json"
    assert body["filter"] == {"op": "and", "args": [
        {"op": "<", "args": [{"property": "eo:cloud_cover"}, 30]},
        {"op": ">=", "args": [{"property": "eo:cloud_cover"}, 1]},
    ]}


# --------------------------------------------------------------------------- pure helpers


def test_normalize_filters__unknown_operator_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="unknown filter operator 'below'"):
        normalize_filters({"eo:cloud_cover": {"below": 30}})


def test_normalize_filters__in_needs_a_list() -> None:
    with pytest.raises(SpecError, match="list"):
        normalize_filters({"platform": {"in": "sentinel-2a"}})


def test_matches__missing_or_incomparable_property_does_not_match() -> None:
    flt = (PropertyFilter("eo:cloud_cover", "lt", 30),)
    assert matches({"properties": {"eo:cloud_cover": 10}}, flt)
    assert not matches({"properties": {}}, flt)
    assert not matches({"properties": {"eo:cloud_cover": None}}, flt)
    assert not matches({"properties": {"eo:cloud_cover": "10"}}, flt)


def test_search_items__bbox_and_intersects_together_is_a_spec_error() -> None:
    with pytest.raises(SpecError):
        search_items("http://127.0.0.1:1", "c", bbox=(0, 0, 1, 1), intersects=box(0, 0, 1, 1))
