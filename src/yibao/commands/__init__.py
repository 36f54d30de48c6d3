"""Sub-commands of ``yibao`` beyond settlement and policy, one module each.

Each module defines ``register(subparsers)`` adding its command(s); :mod:`yibao.cli`
discovers them all, so a new command is a new file here.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from typing import Any


def whole_number(text: str) -> int:
    """An argument that counts something: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("give 0 or more")
    return value


def register_all(subparsers: Any) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(subparsers)
