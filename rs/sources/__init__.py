"""Where scenes come from: STAC APIs (searched with pystac-client) and the embedded API."""

from rs.sources.local import ApiFiles, EmbeddedStacApi, build_api_files, serve_forever
from rs.sources.stac import list_collections, search_items

__all__ = [
    "ApiFiles",
    "EmbeddedStacApi",
    "build_api_files",
    "list_collections",
    "search_items",
    "serve_forever",
]
