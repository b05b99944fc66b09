"""A fake RegioJet REST API for tests and offline use; see `server.FakeRegioJetServer`."""

from fake_regiojet.server import FakeRegioJetServer

__all__ = ["FakeRegioJetServer"]
