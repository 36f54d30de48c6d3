"""Settings of the service, from the environment (``YIBAO_*``) or the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_DATABASE = "sqlite:///var/yibao.db"


def _optional_count(name: str) -> int | None:
    """A whole number ≥ 0 from the environment; ``None`` when the variable is unset or empty."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"{name}={value!r}: give a whole number ≥ 0")
    return int(value)


@dataclass(frozen=True)
class Settings:
    #: SQLAlchemy URL: ``sqlite:///path`` (the embedded default) or ``postgresql://…``.
    database_url: str = field(default_factory=lambda: os.environ.get("YIBAO_DATABASE_URL", DEFAULT_DATABASE))
    #: How far a signed request's ``x-tif-timestamp`` may be from the server clock (seconds).
    signature_skew: int = field(default_factory=lambda: int(os.environ.get("YIBAO_SIGNATURE_SKEW", "300")))
    #: Connections per process (PostgreSQL).
    pool_size: int = field(default_factory=lambda: int(os.environ.get("YIBAO_POOL_SIZE", "8")))
    #: Threads per process that answer gateway calls; ``None``: one per connection
    #: (``pool_size``). 0: the process's event loop answers each call itself, one at a time —
    #: no hand-over between threads, the fastest on few cores; concurrency then comes from
    #: ``--workers`` (docs/service/gateway.md, "Throughput").
    gateway_threads: int | None = field(default_factory=lambda: _optional_count("YIBAO_GATEWAY_THREADS"))
    #: Policy overlay files (each names its city), e.g. the figures 苏州 and 舟山 leave blank.
    overlays: tuple[str, ...] = field(default_factory=lambda: tuple(
        p for p in os.environ.get("YIBAO_OVERLAYS", "").split(os.pathsep) if p))
    #: Whether a business transaction must carry a ``sign_no`` from 9001.
    require_sign_in: bool = field(default_factory=lambda: os.environ.get("YIBAO_REQUIRE_SIGN_IN", "1") == "1")
