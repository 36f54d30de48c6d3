"""National code tables ↔ the engine's vocabulary, in one documented place.

The tables are data (``codes/national.yaml``); :class:`Codes` validates them at load and
answers every translation the gateway needs. An operator adds regional codes with an
overlay file named by ``YIBAO_CODES``. A code the tables do not know is refused with a
message naming the field and the code — never guessed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from yibao import vocabulary as V
from yibao.errors import YibaoError

HERE = Path(__file__).resolve().parent


class CodeError(YibaoError):
    """A national code the tables do not know, or that does not fit."""


@dataclass(frozen=True)
class MedType:
    code: str
    kind: str  # engine kind, or "chronic_or_special"
    setting: str  # outpatient | inpatient
    route: str | None
    name: str


class Codes:
    def __init__(self, raw: dict[str, Any]):
        self.raw = raw
        self.insutype_scheme = {str(k): v["scheme"] for k, v in raw["insutype"].items()}
        self.scheme_insutype = dict(raw["scheme_insutype"])
        self.scheme_fund_pay_type = dict(raw["scheme_fund_pay_type"])
        self.birctrl_type = {str(k): v for k, v in raw["birctrl_type"].items()}
        self.psn_type = dict(raw["psn_type"])
        self.med_types = {
            str(k): MedType(str(k), v["kind"], v["setting"], v.get("route"), v.get("name", ""))
            for k, v in raw["med_type"].items()
        }
        self.chrgitm_lv = dict(raw["chrgitm_lv"])
        self.class_of_lv = {v: k for k, v in self.chrgitm_lv.items()}
        self.city_admdvs = dict(raw["city_admdvs"])
        self.admdvs_city = {v: k for k, v in self.city_admdvs.items()}
        self.disease = {str(k): v for k, v in (raw.get("disease") or {}).items()}
        self.psn_idet_type = dict(raw["psn_idet_type"])
        self._check()

    def _check(self) -> None:
        for code, scheme in self.insutype_scheme.items():
            _known(scheme, V.SCHEMES, f"insutype {code}")
        for category in self.psn_type:
            _known(category, V.ALL_CATEGORIES, "psn_type")
        for m in self.med_types.values():
            if m.kind != "chronic_or_special":
                _known(m.kind, V.KINDS, f"med_type {m.code}")
            if m.route is not None:
                _known(m.route, V.ROUTES, f"med_type {m.code} route")
        for city in self.city_admdvs:
            _known(city, V.CITIES, "city_admdvs")
        for code, procedure in self.birctrl_type.items():
            _known(procedure, V.PROCEDURES, f"birctrl_type {code}")
        for code, key in self.disease.items():
            _known(key, V.DISEASES, f"disease {code}")

    # ------------------------------------------------------------------ translations

    def scheme_of(self, insutype: str) -> str:
        try:
            return self.insutype_scheme[str(insutype)]
        except KeyError:
            raise CodeError(f"insutype {insutype!r} is not a basic scheme this service settles (one of {', '.join(self.insutype_scheme)})") from None

    def med_type(self, code: str) -> MedType:
        try:
            return self.med_types[str(code)]
        except KeyError:
            raise CodeError(f"med_type {code!r} is not in the code table (one of {', '.join(self.med_types)})") from None

    def disease_of(self, code: str | None) -> str | None:
        if not code:
            return None
        if code in V.DISEASES:
            return code
        try:
            return self.disease[code]
        except KeyError:
            raise CodeError(f"dise_codg {code!r} is not a 慢特病 code the tables know") from None

    def city_of_admdvs(self, admdvs: str) -> str:
        """The pooling city of a 区划 (a county code maps to its city by the first four digits)."""
        city = self.admdvs_city.get(admdvs) or self.admdvs_city.get(str(admdvs)[:4] + "00")
        if city is None:
            raise CodeError(f"insuplc_admdvs {admdvs!r} is not a pooling city this service serves")
        return city

    def location(self, person_admdvs: str, visit_admdvs: str) -> str:
        if person_admdvs[:4] == visit_admdvs[:4]:
            return "local"
        if person_admdvs[:2] == visit_admdvs[:2]:
            return "province"
        return "out_of_province"

    def procedure(self, birctrl_type: str) -> str:
        try:
            return self.birctrl_type[birctrl_type]
        except KeyError:
            raise CodeError(f"birctrl_type {birctrl_type!r} is not one of {', '.join(self.birctrl_type)}") from None

    def item_class(self, chrgitm_lv: str) -> str:
        try:
            return self.class_of_lv[chrgitm_lv]
        except KeyError:
            raise CodeError(f"chrgitm_lv {chrgitm_lv!r} is not one of {', '.join(self.class_of_lv)}") from None


def _known(value: str, allowed: Any, what: str) -> None:
    if value not in allowed:
        raise CodeError(f"code tables: {what} maps to {value!r}, which the engine does not know")


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@lru_cache(maxsize=4)
def load_codes(overlay: str | None = None) -> Codes:
    raw = yaml.safe_load((HERE / "national.yaml").read_text(encoding="utf-8"))
    overlay = overlay if overlay is not None else os.environ.get("YIBAO_CODES")
    if overlay:
        raw = _merge(raw, yaml.safe_load(Path(overlay).read_text(encoding="utf-8")) or {})
    return Codes(raw)
