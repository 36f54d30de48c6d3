"""Loading a city's policy: files → dated, validated parameters, plus overlays.

``load_city("jiaxing")`` reads ``policy/data/jiaxing``; ``load_city("zhoushan",
overlays=[path])`` deep-merges operator overlays first. Everything is validated at load:
unknown keys, wrong types, unknown selector values, overlapping or gapped date ranges all
raise :class:`~yibao.errors.PolicyError` naming the file and the key.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field, fields, is_dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import yaml

from yibao import vocabulary as V
from yibao.errors import PolicyError
from yibao.policy.model import TYPES
from yibao.policy.selectors import Choice, Missing, SelectorError

DATA = Path(__file__).parent / "data"
EFFECTIVE = "effective"  # a version key meaning "from the document's own effective date"
_PARAM_KEYS = {"description", "reference", "type", "unit", "values", "note"}
_VERSION_KEYS = {"value", "until", "reference", "note"}
_ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Version:
    """One dated value of a parameter: in force from ``start`` to ``end`` (inclusive)."""

    start: dt.date | None  # None: from the document's (blank) effective date on
    end: dt.date | None
    value: Any
    raw: Any
    reference: str

    def covers(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Parameter:
    """One concept of the regulation, with its citation and dated values."""

    city: str
    name: str
    description: str
    reference: str
    type: str
    unit: str | None
    versions: tuple[Version, ...]
    source: str

    def at(self, day: dt.date) -> Version | None:
        for version in self.versions:
            if version.covers(day):
                return version
        return None


@dataclass(frozen=True)
class MissingValue:
    """A blank figure: which parameter, where inside it, from which date, and its clause."""

    city: str
    name: str
    clause: str
    since: dt.date | None
    description: str

    def __str__(self) -> str:
        return f"{self.name}"


@dataclass(frozen=True)
class Document:
    city: str
    name: str
    title: str
    start: dt.date | None
    end: dt.date | None
    reference: str
    start_missing: bool

    def covers(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def span(self) -> str:
        start = self.start.isoformat() if self.start else "an effective date the text leaves blank"
        end = f" to {self.end.isoformat()}" if self.end else ""
        return f"in force from {start}{end}"


@dataclass
class CityPolicy:
    """All parameters of one city, after overlays, ready for lookups by date."""

    document: Document
    parameters: dict[str, Parameter]
    overlays: tuple[str, ...] = ()
    raw: dict[str, dict] = field(default_factory=dict, repr=False)

    @property
    def city(self) -> str:
        return self.document.city

    def get(self, name: str) -> Parameter | None:
        return self.parameters.get(name)

    def missing_values(self) -> list[MissingValue]:
        """Every blank figure, in file order, with its clause (``yibao policy check``)."""
        found: list[MissingValue] = []
        for param in self.parameters.values():
            for version in param.versions:
                for path, clause in _walk_missing(version.value, version.reference):
                    name = param.name + ("" if not path else path if path.startswith("[") else f".{path}")
                    found.append(MissingValue(self.city, name, clause, version.start, param.description))
        return found


# ------------------------------------------------------------------ loading


def cities() -> list[str]:
    return [c for c in V.CITIES if (DATA / c / "city.yaml").exists()]


def load_city(city: str, overlays: tuple[str, ...] | list[str] = ()) -> CityPolicy:
    """Load a city's shipped policy, with overlay files merged in order."""
    return _load(city, tuple(str(o) for o in overlays))


@lru_cache(maxsize=64)
def _load(city: str, overlays: tuple[str, ...]) -> CityPolicy:
    if city not in V.CITIES:
        raise PolicyError(city, "", f"unknown city (one of {', '.join(V.CITIES)})")
    root = DATA / city
    doc_raw = _read_yaml(root / "city.yaml")
    raws: dict[str, tuple[dict, str]] = {}
    for path in sorted(root.rglob("*.yaml")):
        if path.name == "city.yaml":
            continue
        name = ".".join(path.relative_to(root).with_suffix("").parts)
        raws[name] = (_read_yaml(path), _rel(path))
    for overlay in overlays:
        doc_raw, raws = _apply_overlay(city, doc_raw, raws, Path(overlay))
    document = _document(city, doc_raw, _rel(root / "city.yaml"))
    params = {name: _parameter(city, name, raw, source, document) for name, (raw, source) in raws.items()}
    return CityPolicy(document, params, overlays, {n: r for n, (r, _) in raws.items()})


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(DATA.parent.parent.parent.parent))
    except ValueError:
        return str(path)


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise PolicyError(_rel(path), "", "file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise PolicyError(_rel(path), "", f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None


def _document(city: str, raw: Any, source: str) -> Document:
    if not isinstance(raw, dict):
        raise PolicyError(source, "", "city.yaml must be a mapping")
    allowed = {"city", "name", "document", "effective", "note"}
    unknown = set(raw) - allowed
    if unknown:
        raise PolicyError(source, sorted(unknown)[0], "unknown key")
    if raw.get("city") != city:
        raise PolicyError(source, "city", f"must be {city!r}")
    eff = raw.get("effective") or {}
    if not isinstance(eff, dict) or set(eff) - {"from", "until", "reference"} or "from" not in eff:
        raise PolicyError(source, "effective", "needs `from` (a date, or null when the text leaves it blank), optional `until` and `reference`")
    start, end = eff.get("from"), eff.get("until")
    for key, value in (("from", start), ("until", end)):
        if value is not None and not isinstance(value, dt.date):
            raise PolicyError(source, f"effective.{key}", f"{value!r} is not a date YYYY-MM-DD")
    if start and end and end < start:
        raise PolicyError(source, "effective.until", "ends before it starts")
    return Document(
        city,
        raw.get("name", city),
        raw.get("document", ""),
        start,
        end,
        str(eff.get("reference", "")),
        start is None,
    )


def _parameter(city: str, name: str, raw: Any, source: str, doc: Document) -> Parameter:
    if not isinstance(raw, dict):
        raise PolicyError(source, "", "a parameter file must be a mapping")
    unknown = set(raw) - _PARAM_KEYS
    if unknown:
        raise PolicyError(source, sorted(unknown)[0], f"unknown key (allowed: {', '.join(sorted(_PARAM_KEYS))})")
    for key in ("description", "reference", "type", "values"):
        if key not in raw:
            raise PolicyError(source, key, "is required")
    ptype = raw["type"]
    if ptype not in TYPES:
        raise PolicyError(source, "type", f"{ptype!r} is not a parameter type (one of {', '.join(TYPES)})")
    builder = TYPES[ptype][0]
    values = raw["values"]
    if not isinstance(values, dict) or not values:
        raise PolicyError(source, "values", "needs at least one dated value")
    dated: list[tuple[dt.date | None, Any, str]] = []
    for key, entry in values.items():
        label = f"values[{key}]"
        if key == EFFECTIVE:
            start = doc.start
        elif isinstance(key, dt.date):
            start = key
        else:
            raise PolicyError(source, label, "a version key is a date YYYY-MM-DD or `effective`")
        if not isinstance(entry, dict) or "value" not in entry:
            raise PolicyError(source, label, "each version is a mapping with `value` (null when the text leaves it blank)")
        extra = set(entry) - _VERSION_KEYS
        if extra:
            raise PolicyError(source, f"{label}.{sorted(extra)[0]}", f"unknown key (allowed: {', '.join(sorted(_VERSION_KEYS))})")
        until = entry.get("until")
        if until is not None and not isinstance(until, dt.date):
            raise PolicyError(source, f"{label}.until", f"{until!r} is not a date")
        dated.append((start, entry, label))
    dated.sort(key=lambda d: (d[0] is not None, d[0] or dt.date.min))
    starts = [d[0] for d in dated]
    if len(set(starts)) != len(starts):
        raise PolicyError(source, "values", "two versions start on the same date")
    if starts[0] != doc.start:
        begin = doc.start.isoformat() if doc.start else "the document's effective date"
        first = starts[0].isoformat() if starts[0] else "the document's effective date"
        raise PolicyError(source, "values", f"gap: the document is in force from {begin} but this parameter starts {first}")
    versions: list[Version] = []
    for i, (start, entry, label) in enumerate(dated):
        nxt = dated[i + 1][0] if i + 1 < len(dated) else None
        until = entry.get("until")
        if nxt is not None:
            end = nxt - _ONE_DAY
            if until is not None and until > end:
                raise PolicyError(source, f"{label}.until", f"overlap: runs to {until} but the next version starts {nxt}")
            if until is not None and until < end:
                raise PolicyError(source, f"{label}.until", f"gap: ends {until} but the next version starts {nxt}")
        else:
            end = until if until is not None else doc.end
            if until is not None and (doc.end is None or until < doc.end):
                raise PolicyError(source, f"{label}.until", f"gap: ends {until} while the document stays in force")
        if start is not None and end is not None and end < start:
            raise PolicyError(source, f"{label}.until", "ends before it starts")
        reference = str(entry.get("reference") or raw["reference"])
        try:
            value = builder(entry["value"], "") if entry["value"] is not None else Missing("")
        except SelectorError as exc:
            key = f"{label}.value" + (f".{exc.path}" if exc.path else "")
            raise PolicyError(source, key, str(exc)) from None
        versions.append(Version(start, end, value, entry["value"], reference))
    return Parameter(
        city,
        name,
        str(raw["description"]),
        str(raw["reference"]),
        ptype,
        raw.get("unit"),
        tuple(versions),
        source,
    )


# ------------------------------------------------------------------ overlays


def _apply_overlay(city: str, doc_raw: dict, raws: dict, path: Path) -> tuple[dict, dict]:
    """Merge an overlay (same format as the shipped files) into the raw policy."""
    data = _read_yaml(path)
    src = str(path)
    if not isinstance(data, dict):
        raise PolicyError(src, "", "an overlay is a mapping with `city` and `parameters`")
    unknown = set(data) - {"city", "description", "effective", "parameters"}
    if unknown:
        raise PolicyError(src, sorted(unknown)[0], "unknown key (allowed: city, description, effective, parameters)")
    if data.get("city") != city:
        raise PolicyError(src, "city", f"this overlay is for {data.get('city')!r}, not {city!r}")
    doc_raw = copy.deepcopy(doc_raw)
    if "effective" in data:
        eff = data["effective"]
        if not isinstance(eff, dict):
            raise PolicyError(src, "effective", "a mapping with `from` and optional `until`")
        doc_raw.setdefault("effective", {}).update(eff)
    raws = dict(raws)
    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        raise PolicyError(src, "parameters", "a mapping of parameter name to its values")
    for name, body in params.items():
        where = f"parameters.{name}"
        if not isinstance(body, dict):
            raise PolicyError(src, where, "a mapping with `values` (and, for a new parameter, its description, reference and type)")
        if name not in raws:
            raws[name] = (body, f"{src} ({name})")
            continue
        base, base_src = raws[name]
        merged = copy.deepcopy(base)
        extra = set(body) - _PARAM_KEYS
        if extra:
            raise PolicyError(src, f"{where}.{sorted(extra)[0]}", "unknown key")
        for key in ("description", "reference", "unit", "note"):
            if key in body:
                merged[key] = body[key]
        if "type" in body and body["type"] != base.get("type"):
            raise PolicyError(src, f"{where}.type", f"an overlay cannot change the type ({base.get('type')})")
        values = body.get("values") or {}
        if not isinstance(values, dict):
            raise PolicyError(src, f"{where}.values", "a mapping of version key to version")
        for key, entry in values.items():
            if not isinstance(entry, dict):
                raise PolicyError(src, f"{where}.values[{key}]", "each version is a mapping with `value`")
            if key in merged["values"]:
                merged["values"][key] = _merge_version(merged["values"][key], entry)
            else:
                # A new version: its value builds on the version in force just before it.
                previous = _version_before(merged["values"], key)
                merged["values"][key] = _merge_version(previous, entry) if previous else entry
        raws[name] = (merged, f"{base_src} + {src}")
    return doc_raw, raws


def _version_before(values: dict, key: Any) -> dict | None:
    if not isinstance(key, dt.date):
        return None
    earlier = [k for k in values if k == EFFECTIVE or (isinstance(k, dt.date) and k < key)]
    if not earlier:
        return None
    latest = max(earlier, key=lambda k: dt.date.min if k == EFFECTIVE else k)
    base = copy.deepcopy(values[latest])
    base.pop("until", None)
    return base


def _merge_version(base: dict, overlay: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        out[key] = deep_merge(out.get(key), value) if key == "value" else value
    return out


def deep_merge(base: Any, overlay: Any) -> Any:
    """Mappings merge key by key; lists of equal length merge element-wise; else replace."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = dict(base)
        for key, value in overlay.items():
            out[key] = deep_merge(base.get(key), value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(overlay, list) and len(base) == len(overlay):
        return [deep_merge(b, o) for b, o in zip(base, overlay)]
    return copy.deepcopy(overlay)


# ------------------------------------------------------------------ missing values


def _walk_missing(node: Any, clause: str, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(path, clause)`` of every :class:`Missing` leaf in a compiled value."""
    if isinstance(node, Missing):
        yield node.path or path, clause
    elif isinstance(node, Choice):
        for _, sub in node.options:
            yield from _walk_missing(sub, clause, path)
        if node.has_other:
            yield from _walk_missing(node.other, clause, path)
    elif isinstance(node, (tuple, list)):
        for sub in node:
            yield from _walk_missing(sub, clause, path)
    elif isinstance(node, dict):
        for sub in node.values():
            yield from _walk_missing(sub, clause, path)
    elif is_dataclass(node) and not isinstance(node, type):
        own = getattr(node, "reference", None)
        for f in fields(node):
            yield from _walk_missing(getattr(node, f.name), own or clause, path)


def template(policy: CityPolicy) -> dict:
    """An overlay skeleton holding exactly the missing values (``yibao policy template``)."""
    params: dict[str, Any] = {}
    for name, raw in policy.raw.items():
        versions = {}
        for key, entry in (raw.get("values") or {}).items():
            pruned = _prune(entry.get("value"))
            if pruned is not _NOTHING:
                versions[key] = {"value": pruned}
        if versions:
            params[name] = {"values": versions}
    out: dict[str, Any] = {"city": policy.city, "description": f"figures for {policy.document.name} left blank by its text"}
    if policy.document.start_missing:
        out["effective"] = {"from": None}
    out["parameters"] = params
    return out


_NOTHING = object()


def _prune(node: Any) -> Any:
    if node is None:
        return None
    if isinstance(node, dict):
        kept = {k: p for k, v in node.items() if (p := _prune(v)) is not _NOTHING}
        return kept if kept else _NOTHING
    if isinstance(node, list):
        pruned = [_prune(v) for v in node]
        if all(p is _NOTHING for p in pruned):
            return _NOTHING
        return [{} if p is _NOTHING else p for p in pruned]
    return _NOTHING
