"""The errors yibao raises. Each one carries a single reader-facing sentence.

``CaseError``           the case (a person and a bill) cannot be settled as given;
``MissingPolicyValue``  a figure the law leaves blank is needed — names it and its clause;
``PolicyError``         a policy or overlay file is malformed — names the file and key.
"""

from __future__ import annotations


class YibaoError(Exception):
    """Base class: ``str(error)`` is the one message shown to the user."""


class CaseError(YibaoError):
    """Bad input: malformed JSON, unknown keys or values, impossible visits, …"""


class PolicyError(YibaoError):
    """A policy file or overlay does not validate."""

    def __init__(self, source: str, key: str, problem: str):
        self.source, self.key, self.problem = source, key, problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"policy error in {where}: {problem}")


class MissingPolicyValue(YibaoError):
    """A figure that the regulation leaves blank (or delegates) is needed for settlement."""

    def __init__(self, city: str, name: str, clause: str, *, visit: str | None = None):
        self.city, self.name, self.clause, self.visit = city, name, clause, visit
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"visit {self.visit}: " if self.visit else ""
        return (
            f"{where}missing policy value {self.city}:{self.name} ({self.clause}); "
            f"the regulation leaves it blank — supply it in an overlay "
            f"(see `yibao policy template {self.city}`)"
        )

    def for_visit(self, visit_id: str) -> "MissingPolicyValue":
        return MissingPolicyValue(self.city, self.name, self.clause, visit=visit_id)
