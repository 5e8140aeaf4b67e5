"""Steps that read one earlier output refuse ``step@*`` (every period) when the spec is read."""

from __future__ import annotations

import pydantic
import pytest

from rs.products import PRODUCTS

ONE_OUTPUT = [
    ("difference", {"before": "c@*", "after": "c@b"}),
    ("difference", {"before": "c@a", "after": "c@*"}),
    ("land-change", {"before": "c@*", "after": "c@b"}),
    ("rsei", {"composite": "c@*"}),
    ("hotspots", {"field": "g@*"}),
    ("eqi-change", {"before": "e@*", "after": "e@b"}),
    ("eqi", {"vegetation": "c@*", "zones": "z.gpkg", "landcover": "lc.tif"}),
]


@pytest.mark.parametrize(("kind", "fields"), ONE_OUTPUT)
def test_one_output_references_refuse_every_period(kind, fields):
    model = PRODUCTS[kind].spec
    with pytest.raises(pydantic.ValidationError, match="names every period's output"):
        model.model_validate({"kind": kind, "id": "s", **fields})
    ok = {k: v.replace("@*", "@p") for k, v in fields.items()}
    model.model_validate({"kind": kind, "id": "s", **ok})  # one period is fine
