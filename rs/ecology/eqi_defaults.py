"""The EQI configuration: its models, and the method's defaults with where each comes from.

:class:`EqiConfig` (dimensions -> indicators, classes, change levels, land-cover groups) is
validated like every rs spec (unknown keys refused, weights summing to 1 checked);
:func:`eqi_config` merges a user mapping onto :data:`DEFAULT_CONFIG`. The computation is in
:mod:`rs.ecology.eqi`.

The method: 《区域生态质量评价办法（试行）》 (Regional Ecological Quality Evaluation Method,
trial), Ministry of Ecology and Environment (MEE) of China, issued October 2021 for counties and
larger regions (document number 环监测〔2021〕99号 as given in the task brief; the number itself
was not found in any source read). The method's own text (its indicator table, weights,
normalisation and grading tables) was NOT available to the author of this module; what could be
confirmed comes from secondary sources, listed in :data:`SOURCES` and cited beside each default.

Status of every default (``CONFIRMED`` = stated by a source read; ``CONSISTENT`` = agrees with
published numbers but the exact value was not read; ``UNCONFIRMED`` = recollection or an
assumption, to be checked against the method's text; ``RS CHOICE`` = not the method's, chosen
here and stated as such):

- four dimensions (一级指标) 生态格局 ecological pattern, 生态功能 ecological function, 生物多样性
  biodiversity, 生态胁迫 ecological stress; higher EQI = better quality: CONFIRMED [news-henan,
  news-cctv]. The method has 4 first-level, 11 second-level and 18 third-level indicators:
  CONFIRMED [shuibianli]. rs keeps a reduced set of third-level indicators (below).
- dimension weights 0.35 / 0.35 / 0.20 / 0.10 and EQI = Σ weight × dimension score with the
  stress dimension entering as (100 − stress index): UNCONFIRMED.
- indicator list per dimension: the names (生态用地面积比, 自然生境破碎度, 植被覆盖指数,
  生物量 / NPP, 水源涵养, 野生维管束植物 / 野生动物多样性, 人类干扰指数) are UNCONFIRMED as the
  method's exact third-level indicators ("生境质量指数" and "陆域开发干扰指数" are named as
  EQI indicators by [cnemce-guangxi]; how they map to these slots is UNCONFIRMED).
  Within-dimension weights are equal: RS CHOICE, not the method's weights.
- normalisation: shares and fractions (0..1) min-max to 0..100 over their natural range (RS
  CHOICE: no bound invented); table indicators are expected as 0..100 index values already
  normalised by the user (RS CHOICE; the method may use benchmark values / normalisation
  coefficients, UNCONFIRMED); the fragmentation bound 10 patches/km² is a placeholder
  (UNCONFIRMED, calibrate regionally). A "normalisation coefficient × value, capped at 100"
  normaliser exists as in HJ 192-2015 (A_norm = 100 / A_max) [hj192].
- classes 一类..五类 (class I..V): names CONFIRMED [news-henan, news-cctv]; bounds EQI ≥ 70,
  55–70, 40–55, 30–40, < 30: CONSISTENT with published values (national 2021 59.77 → 二类
  [news-cctv]; Henan 2024 54.76 → 三类, Henan counties 73.88 → 一类, 38.44 and 32.73 → 四类
  [news-henan]; Guangxi 2020–2024 74.63–75.10 → 一类 [cnemce-guangxi]; Yixing 2021 62.7 → 二类
  [yixing]) but the exact bounds were not read: UNCONFIRMED.
- change classes of ΔEQI between two years: |ΔEQI| < 1 no obvious change, 1–2 slight, 2–4
  obvious, ≥ 4 significant, each better or worse: UNCONFIRMED (the label 无明显变化, "no obvious
  change", is used for the national year-on-year change [bulletin-2023]). For comparison the
  older EI of HJ 192-2015 uses |ΔEI| < 1 无明显变化, 1–3 略微, 3–8 明显, ≥ 8 显著, and classes
  优 ≥ 75, 良 55–75, 一般 35–55, 较差 20–35, 差 < 20: CONFIRMED [ei-classes, shuibianli].
- land-cover groups: the codes of rs's synthetic land cover (``rs.testing.landcover.LandCover``:
  1 water, 2 forest, 3 cropland, 4 grassland, 5 built-up, 6 bare soil); ecological land = water,
  forest, grassland (the brief's "forest, grassland, wetland, water"): RS CHOICE, override for
  any other land-cover product.
- ``decimals`` 2: EQI and ΔEQI are classified after rounding to 2 decimals, as published values
  are given (59.77): RS CHOICE.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from rs._model import Strict
from rs.errors import SpecError

__all__ = [
    "DEFAULT_CONFIG",
    "SENSED",
    "SOURCES",
    "ChangeLevel",
    "Coefficient",
    "Dimension",
    "EqiClass",
    "EqiConfig",
    "Indicator",
    "LandCoverGroups",
    "MinMax",
    "default_config",
    "eqi_config",
]

#: Sources read (through the search tool's stored pages), cited by key beside the defaults
SOURCES: dict[str, str] = {
    "method": "区域生态质量评价办法（试行）, MEE, October 2021 (text not read; see module doc)",
    "news-henan": "Henan 2024 EQI 54.76 三类; county classes: http://www.86702007.net/news/359170",
    "news-cctv": "2021 national EQI 59.77 二类; four dimensions (CCTV, 2022-07-01): "
    "https://m.news.shi-fen.com/china/202207/50-1347028.html",
    "shuibianli": "4 first-, 11 second-, 18 third-level indicators; EI classes: "
    "http://www.shuibianli.com.cn/hjjc/38362.html",
    "jiangsu": "method issued 2021-10 for county level and above, EQI of 103 Jiangsu counties: "
    "http://www.handmsg.com/page/2023/0216/23500271.shtml",
    "cnemce-guangxi": "Guangxi EQI 2020-2024 (74.63-75.10, 一类), indicators 生境质量指数, "
    "陆域开发干扰指数: https://www.cnemce.cn/article/doi/10.19316/j.issn.1002-6002.2026.02.09",
    "yixing": "Yixing 2021 EQI 62.7 Class II (Jiang et al. 2022, Environ. Monit. Forewarning "
    "14(3)): http://www.hjjkyyj.com/hjjkyyj/ch/reader/view_abstract.aspx?file_no=A20220214001",
    "bulletin-2023": "2023 national EQI 59.6 二类, 与2022年相比无明显变化: "
    "https://zzsj.com.cn/mv/apto679115.html (mirror of the 2023 bulletin text)",
    "ei-classes": "HJ 192-2015 EI classes and |ΔEI| change levels 1/3/8: "
    "https://861718.com/zixun/show-7862-3.html",
    "hj192": "HJ 192-2015 生态环境状况评价技术规范 (EI; normalisation coefficients 100/A_max): "
    "https://guifanku.com/874983.html",
}

_THIRD = 1.0 / 3.0  # equal weights of three indicators (RS CHOICE)


def _share(label: str, direction: str, ref: str, source: str = "sensed") -> dict[str, Any]:
    """An indicator that is a share / fraction in 0..1, min-max to 0..100 (RS CHOICE)."""
    return {
        "weight": 0.5,
        "direction": direction,
        "source": source,
        "normalise": {"method": "minmax", "lower": 0.0, "upper": 1.0},
        "label": label,
        "ref": ref,
    }


def _table(label: str, ref: str, weight: float) -> dict[str, Any]:
    """A user-table indicator given as a 0..100 index (RS CHOICE: the user normalises it)."""
    return {
        "weight": weight,
        "direction": "positive",
        "source": "table",
        "normalise": {"method": "minmax", "lower": 0.0, "upper": 100.0},
        "label": label,
        "ref": ref,
    }


DEFAULT_CONFIG: dict[str, Any] = {
    "dimensions": {
        # Dimension names: CONFIRMED [news-henan, news-cctv]. Weights: UNCONFIRMED.
        "ecological_pattern": {
            "weight": 0.35,  # UNCONFIRMED
            "label": "生态格局 ecological pattern",
            "ref": "method; names [news-cctv]; weight UNCONFIRMED",
            "indicators": {
                "ecological_land_share": _share(
                    "生态用地面积比 share of ecological land (UNCONFIRMED as the method's name)",
                    "positive",
                    "UNCONFIRMED indicator; weight 0.5 RS CHOICE (equal)",
                ),
                "fragmentation": {
                    "weight": 0.5,  # RS CHOICE (equal)
                    "direction": "negative",
                    "source": "sensed",
                    # UNCONFIRMED placeholder bound: 10 natural patches per km² scores 100
                    "normalise": {"method": "minmax", "lower": 0.0, "upper": 10.0},
                    "label": "自然生境破碎度 natural-habitat fragmentation: patch density of "
                    "natural land, patches per km² (proxy; the method's formula UNCONFIRMED)",
                    "ref": "UNCONFIRMED indicator and bound (placeholder 0..10 per km²)",
                },
            },
        },
        "ecological_function": {
            "weight": 0.35,  # UNCONFIRMED
            "label": "生态功能 ecological function",
            "ref": "method; names [news-cctv]; weight UNCONFIRMED",
            "indicators": {
                "vegetation_cover": {
                    **_share(
                        "植被覆盖指数 vegetation cover: mean fractional vegetation cover",
                        "positive",
                        "UNCONFIRMED indicator; weight 1/3 RS CHOICE (equal)",
                    ),
                    "weight": _THIRD,
                },
                "productivity_proxy": {
                    **_share(
                        "生物量 / NPP proxy: mean growing-season NDVI (negatives as 0)",
                        "positive",
                        "UNCONFIRMED indicator (the method uses biomass/NPP: NDVI is rs's "
                        "proxy); weight 1/3 RS CHOICE",
                    ),
                    "weight": _THIRD,
                },
                "water_conservation": _table(
                    "水源涵养 water conservation index, 0..100 (user table)",
                    "UNCONFIRMED indicator and normalisation; weight 1/3 RS CHOICE",
                    _THIRD,
                ),
            },
        },
        "biodiversity": {
            "weight": 0.20,  # UNCONFIRMED
            "label": "生物多样性 biodiversity",
            "ref": "method; names [news-cctv]; weight UNCONFIRMED",
            "indicators": {
                "vascular_plant_diversity": _table(
                    "野生维管束植物多样性 wild vascular-plant diversity index, 0..100 (user table)",
                    "UNCONFIRMED indicator and normalisation; weight 0.5 RS CHOICE",
                    0.5,
                ),
                "wild_animal_diversity": _table(
                    "野生动物多样性 wild animal diversity index, 0..100 (user table)",
                    "UNCONFIRMED indicator and normalisation; weight 0.5 RS CHOICE",
                    0.5,
                ),
            },
        },
        "ecological_stress": {
            "weight": 0.10,  # UNCONFIRMED
            "label": "生态胁迫 ecological stress (its quality score is 100 − stress index)",
            "ref": "method; names [news-cctv]; weight UNCONFIRMED",
            "indicators": {
                "human_disturbance": {
                    **_share(
                        "人类干扰指数 human disturbance: built-up share + change-patch share "
                        "(capped at 1; cf. 陆域开发干扰指数 [cnemce-guangxi])",
                        "negative",
                        "UNCONFIRMED indicator and formula; sole indicator: RS CHOICE",
                    ),
                    "weight": 1.0,
                },
            },
        },
    },
    # Names CONFIRMED [news-henan, news-cctv]; bounds CONSISTENT, exact bounds UNCONFIRMED
    "classes": [
        {"code": 1, "label": "一类 class I", "min": 70.0},
        {"code": 2, "label": "二类 class II", "min": 55.0},
        {"code": 3, "label": "三类 class III", "min": 40.0},
        {"code": 4, "label": "四类 class IV", "min": 30.0},
        {"code": 5, "label": "五类 class V", "min": None},
    ],
    # UNCONFIRMED thresholds (the brief's 1 / 2 / 4); 无明显变化 CONFIRMED [bulletin-2023]
    "change": [
        {"min_abs": 0.0, "name": "stable", "better": "无明显变化 no obvious change",
         "worse": "无明显变化 no obvious change"},
        {"min_abs": 1.0, "name": "slight", "better": "slightly better",
         "worse": "slightly worse"},
        {"min_abs": 2.0, "name": "obvious", "better": "obviously better",
         "worse": "obviously worse"},
        {"min_abs": 4.0, "name": "significant", "better": "significantly better",
         "worse": "significantly worse"},
    ],
    "on_missing": "error",
    "decimals": 2,  # RS CHOICE: classify values rounded as published (59.77)
    # RS CHOICE: rs.testing.landcover.LandCover codes; override for other land-cover products
    "landcover": {
        "ecological": [1, 2, 4],
        "built_up": [5],
        "natural": None,
        "nodata": [0],
        "names": {1: "water", 2: "forest", 3: "cropland", 4: "grassland", 5: "built_up",
                  6: "bare_soil"},
    },
}


# -- the configuration models ---------------------------------------------------------

#: Measures rs computes; a ``sensed`` indicator must read one of them
SENSED: tuple[str, ...] = (
    "ecological_land_share", "built_up_share", "fragmentation", "vegetation_cover",
    "productivity_proxy", "change_patch_share", "human_disturbance",
)
_NAME = r"^[a-z][a-z0-9_]*$"
_TOL = 1e-6


def _check_sum(weights: Mapping[str, float], what: str) -> None:
    total = math.fsum(weights.values())
    if abs(total - 1.0) > _TOL:
        shown = ", ".join(f"{k} {v:g}" for k, v in weights.items())
        raise ValueError(f"{what} weights must sum to 1, got {total:g} ({shown})")


class MinMax(Strict):
    """``s = 100 (v − lower) / (upper − lower)``, clipped to 0..100."""

    method: Literal["minmax"]
    lower: float = Field(allow_inf_nan=False)
    upper: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _bounds(self) -> MinMax:
        if not self.upper > self.lower:
            raise ValueError(f"upper ({self.upper}) must be above lower ({self.lower})")
        return self


class Coefficient(Strict):
    """``s = v × coefficient``, clipped to 0..100 (the normalisation coefficient of HJ 192)."""

    method: Literal["coefficient"]
    coefficient: float = Field(gt=0, allow_inf_nan=False)


class Indicator(Strict):
    weight: float = Field(gt=0, le=1)
    direction: Literal["positive", "negative"]
    source: Literal["sensed", "table"]
    normalise: Annotated[MinMax | Coefficient, Field(discriminator="method")]
    column: str | None = Field(None, pattern=_NAME)  # default: the indicator's name
    label: str = ""
    ref: str = ""


class Dimension(Strict):
    weight: float = Field(gt=0, le=1)
    indicators: dict[Annotated[str, Field(pattern=_NAME)], Indicator] = Field(min_length=1)
    label: str = ""
    ref: str = ""

    @model_validator(mode="after")
    def _check(self) -> Dimension:
        _check_sum({k: v.weight for k, v in self.indicators.items()}, "indicator")
        for name, ind in self.indicators.items():
            col = ind.column or name
            if ind.source == "sensed" and col not in SENSED:
                raise ValueError(
                    f"sensed indicator {name!r} reads {col!r}, which rs does not compute; "
                    f"sensed measures are {list(SENSED)} (or make it source: table)"
                )
        return self


class EqiClass(Strict):
    code: int
    label: str
    min: float | None  # lowest EQI of the class; None: the last, open-ended class


class ChangeLevel(Strict):
    min_abs: float = Field(ge=0, allow_inf_nan=False)
    name: str
    better: str
    worse: str


class LandCoverGroups(Strict):
    """Land-cover class codes by group; any other code counts in the area but in no group."""

    ecological: list[int] = Field(min_length=1)
    built_up: list[int]
    natural: list[int] | None = None  # patches for fragmentation; None: the ecological codes
    nodata: list[int] = Field(default_factory=list)
    names: dict[int, str] = Field(default_factory=dict)  # code -> name (zonal area columns)

    @model_validator(mode="after")
    def _disjoint(self) -> LandCoverGroups:
        for a, b in (("ecological", "built_up"), ("ecological", "nodata"),
                     ("built_up", "nodata"), ("natural", "nodata")):
            both = set(getattr(self, a) or ()) & set(getattr(self, b) or ())
            if both:
                raise ValueError(f"land-cover codes {sorted(both)} are both {a} and {b}")
        return self

    @property
    def natural_codes(self) -> list[int]:
        return self.ecological if self.natural is None else self.natural


class EqiConfig(Strict):
    dimensions: dict[Annotated[str, Field(pattern=_NAME)], Dimension] = Field(min_length=1)
    classes: list[EqiClass] = Field(min_length=1)
    change: list[ChangeLevel] = Field(min_length=1)
    on_missing: Literal["error", "row"] = "error"
    decimals: int | None = Field(2, ge=0, le=12)  # rounding before classifying; None: none
    landcover: LandCoverGroups

    @model_validator(mode="after")
    def _check(self) -> EqiConfig:
        _check_sum({k: d.weight for k, d in self.dimensions.items()}, "dimension")
        names = [n for d in self.dimensions.values() for n in d.indicators]
        if dup := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"indicator names must be unique across dimensions: {dup}")
        mins = [c.min for c in self.classes]
        bounded = [m for m in mins[:-1] if m is not None]
        if mins[-1] is not None or len(bounded) != len(mins) - 1:
            raise ValueError("classes: the last class, and only it, has min null (no bound)")
        if any(not a > b for a, b in itertools.pairwise(bounded)):
            raise ValueError(f"classes: min must decrease strictly, got {mins}")
        if len({c.code for c in self.classes}) != len(self.classes):
            raise ValueError("classes: codes must be unique")
        steps = [c.min_abs for c in self.change]
        if steps[0] != 0 or any(not b > a for a, b in itertools.pairwise(steps)):
            raise ValueError(f"change: min_abs must start at 0 and increase, got {steps}")
        return self

    def indicators(self) -> list[tuple[str, str, Indicator]]:
        """``(dimension, indicator name, indicator)`` in configuration order."""
        return [(d, n, i) for d, dim in self.dimensions.items()
                for n, i in dim.indicators.items()]


# -- merging overrides -------------------------------------------------------------------------

_REPLACED = {"normalise", "names"}  # keys replaced whole by an override, never merged
_DELETABLE = {"dimensions", "indicators"}  # in these mappings, `null` removes an entry


def _merge(base: dict[str, Any], over: Mapping[Any, Any], key: str = "") -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if v is None and key in _DELETABLE:
            out.pop(k, None)
        elif isinstance(v, Mapping) and isinstance(out.get(k), dict) and k not in _REPLACED:
            out[k] = _merge(out[k], v, str(k))
        else:
            out[k] = v
    return out


def _describe(e: ValidationError) -> str:
    lines = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown key {loc!r}: remove it or check its spelling")
        elif err["type"] == "missing":
            lines.append(f"missing key {loc!r}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(dict.fromkeys(lines))


def eqi_config(overrides: Mapping[str, Any] | None = None, *,
               base: EqiConfig | Mapping[str, Any] | None = None) -> EqiConfig:
    """The configuration: ``base`` (default: the method's, :func:`default_config`) with
    ``overrides`` merged in. Mappings merge key by key (``normalise`` and lists are replaced
    whole; ``null`` under ``dimensions`` or ``indicators`` removes that entry), then the
    result is validated: a mistake is a :class:`~rs.errors.SpecError` naming its key."""
    if base is None:
        start: dict[str, Any] = copy.deepcopy(DEFAULT_CONFIG)
    elif isinstance(base, EqiConfig):
        start = base.model_dump()
    else:
        start = copy.deepcopy(dict(base))
    if overrides is not None and not isinstance(overrides, Mapping):
        raise SpecError(f"eqi config: overrides must be a mapping, got {type(overrides).__name__}")
    try:
        return EqiConfig.model_validate(_merge(start, overrides or {}))
    except ValidationError as e:
        raise SpecError(f"eqi config: {_describe(e)}") from e


def default_config() -> EqiConfig:
    """The method's defaults (see :mod:`rs.ecology.eqi_defaults` for their sources)."""
    return eqi_config()
