"""The fault suite: crashes, stops, outages and faulty servers, run against the selected backend.

`python -m tests.faults.report` runs it on PostgreSQL and Redis and rewrites docs/reliability.md.
"""
