"""Fixtures of the explorer tests: a headless Chromium, shared by a module's tests.

Without Chromium the browser tests skip, saying how to install it, except under ``CI=true``,
where they fail: CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from explore_browser import Browser, find_chromium

INSTALL = (
    "apt-get install -y chromium (Debian), or set EMBTABLE_CHROMIUM to a Chromium or Chrome binary"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    binary = find_chromium()
    if binary is None:
        message = f"the explorer's browser tests need Chromium, which is not installed: {INSTALL}"
        if _in_ci():
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    session = Browser(binary)
    try:
        yield session
    finally:
        session.close()
