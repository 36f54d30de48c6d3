"""Fixtures for the whole suite; the helpers the tests import live in ``support.py``
(a module of its own name, so that it never clashes with ``service/conftest.py``)."""

from __future__ import annotations

import pytest

from support import run_cli


@pytest.fixture
def cli():
    return run_cli
