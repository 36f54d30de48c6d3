"""The law as data.

Each city is a folder under ``policy/data/<city>/``: ``city.yaml`` names the document and
its dates; every other file is one parameter — one concept of the regulation (a deductible,
a rate scale, a payment cap …) — with its description, clause, type and dated values.

``null`` in a policy file always means *the regulation leaves this figure blank*: it is
listed by ``yibao policy check`` and any settlement that needs it is refused with its name
and clause. Overlays (same format) supply or override values without code changes.
"""

from yibao.policy.loader import CityPolicy, load_city  # noqa: F401
