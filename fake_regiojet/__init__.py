"""A fake RegioJet REST API for tests and offline use.

Run it with `python -m fake_regiojet --port 8765` (or `fake-regiojet`), or in Python with
`FakeRegioJetServer().start()`. Besides the API under `/restapi`, it has a JSON control API:

- `GET /_fake/routes[?date=YYYY-MM-DD]`: connections with ids, stops, times and free seats.
- `GET|PUT /_fake/routes/{route_id}/seats` (body `{"C1": 3}`), `POST /_fake/routes/{route_id}/sell-out`.
- `GET|DELETE /_fake/requests`: request counts per path, or reset them.
- `POST /_fake/reset`: the start state (seats, faults, latency, counts).
- `PUT /_fake/latency` (body `{"ms": 50}`).
- `GET|POST|DELETE /_fake/faults`: body `{"target": route id or path glob, "kind": ..., "count": n,
  "status": 503, "retryAfter": "5", "holdSeconds": 60}`; kinds are timeout, close, status,
  malformed_json, html_error, vanish and sold_out_400.
"""

from fake_regiojet.server import FakeRegioJetServer

__all__ = ["FakeRegioJetServer"]
