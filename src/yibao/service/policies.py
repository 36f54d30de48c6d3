"""The policy each city's settlements use: the shipped policy with the operator's overlays.

An overlay names its city (``docs/policy-format.md``); the service sorts the overlay files
it is given by city and loads each city's policy with its own. 苏州 and 舟山 (and 随州's
blank employee outpatient deductible) settle only once an overlay supplies the figures —
without one the settlement is refused naming the missing figure and its clause.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from yibao.errors import PolicyError
from yibao.policy.loader import CityPolicy, load_city


class Policies:
    def __init__(self, overlays: tuple[str, ...] = ()):
        by_city: dict[str, list[str]] = {}
        for path in overlays:
            try:
                city = (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("city")
            except (OSError, yaml.YAMLError, AttributeError) as exc:
                raise PolicyError(str(path), "", f"cannot read the overlay: {exc}") from None
            if not city:
                raise PolicyError(str(path), "city", "an overlay names its city")
            by_city.setdefault(city, []).append(str(path))
        self.overlays = {city: tuple(paths) for city, paths in by_city.items()}
        for city in self.overlays:
            self.for_city(city)  # a bad overlay stops the service at start, not at the first settlement

    def for_city(self, city: str) -> CityPolicy:
        return load_city(city, self.overlays.get(city, ()))
