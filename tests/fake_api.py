"""Pytest plugin with fixtures that start the fake RegioJet server on a free loopback port."""

from __future__ import annotations

import pytest

from fake_regiojet import FakeRegioJetServer


@pytest.fixture
def fake_api():
    """A fake RegioJet server of its own for one test, stopped after it."""
    with FakeRegioJetServer(port=0, seed=1) as server:
        yield server


@pytest.fixture(scope="session")
def fake_api_session():
    """One fake RegioJet server shared by the session; tests that change its state must restore it."""
    with FakeRegioJetServer(port=0, seed=1) as server:
        yield server
