"""End-to-end benchmark: seeded watches, real consumers, the fake RegioJet API and a loopback SMTP server.

Run it with `python -m bench --routes 1000`; it prints one JSON object. See docs/performance.md.
"""
