"""Run the benchmark: seed, start every process, free seats on random routes, measure, stop everything."""

import argparse
import bisect
import calendar
import json
import logging
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import requests
from huey import PriorityRedisHuey

import models
from bench import services
from bench.seed import WATCHERS_PER_ROUTE, SeededRoute, pick_connections, seed_routes

logger = logging.getLogger(__name__)

SAMPLE_SECONDS = 0.5
# Dense enough for 47,000 direct fake connections over the fake's 30 days.
DEPARTURE_EVERY_MINUTES = 10


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--routes", type=int, default=1000, help="monitored routes to seed")
    parser.add_argument("--routes-per-connection", type=int, default=1,
                        help="monitored routes on each connection, each watching another seat class (1 to 3)")
    parser.add_argument("--duration", type=float, default=120, help="seconds in which seats appear on routes")
    parser.add_argument("--warmup", type=float, default=30, help="seconds of checking before measuring starts")
    parser.add_argument("--finds", type=int, default=20, help="routes whose seats appear during the run")
    parser.add_argument("--latency-ms", type=float, default=50, help="delay of every fake API reply, in ms")
    parser.add_argument("--interval", type=int, default=20, help="CHECK_INTERVAL_SECONDS of the consumers")
    parser.add_argument("--consumers", type=int, default=1, help="huey_consumer processes to start")
    parser.add_argument("--workers", type=int, default=50, help="worker threads per consumer")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL without a database name")
    parser.add_argument("--database", default="regiojet_watch_bench",
                        help="database the benchmark drops and creates; never a test database")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12",
                        help="Redis URL; a db number no test run on this server uses, because some test suites FLUSHDB theirs")
    parser.add_argument("--sweep-routes", type=int, default=100_000,
                        help="routes in the separate claim-sweep timing database; 0 skips it")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the route and moment choice")
    return parser


class ProcessSampler(threading.Thread):
    """Sample queue length and summed RSS of the consumer processes until stopped."""

    def __init__(self, pids: list[int], huey: PriorityRedisHuey) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        self.pids = pids
        self.huey = huey
        self.stopped = threading.Event()
        self.max_queue = 0
        self.max_rss_bytes = 0

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            queued = self.huey.pending_count() + self.huey.scheduled_count()
            self.max_queue = max(self.max_queue, queued)
            self.max_rss_bytes = max(self.max_rss_bytes, sum(rss_bytes(pid) for pid in self.pids))


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of proc(5), counted after the closing parenthesis.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def requests_made(base_url: str) -> dict:
    control = base_url.rsplit("/restapi", 1)[0] + "/_fake/requests"
    return requests.get(control, timeout=30).json()


def detail_requests(base_url: str) -> int:
    paths = requests_made(base_url)["paths"]
    return sum(count for path, count in paths.items() if path.startswith("/restapi/routes/"))


def detail_path(route: SeededRoute) -> str:
    return f"/restapi/routes/{route.regiojet_route_id}/simple"


def connection_windows(times: dict[str, list[float]], routes: list[SeededRoute], interval: float,
                       start: float, end: float) -> dict:
    """Count each watched connection's requests in each of its own intervals between `start` and `end`.

    A connection's interval k is centred on its planned check time first_check_at + k * interval,
    so a check that runs a little early or late still counts in the interval it was planned for.
    Also returns how far requests ran from their planned times.
    """
    first_checks = {detail_path(route): route.first_check_at for route in routes}
    windows = unchecked = repeated = 0
    offsets = []
    for path, first_check_at in first_checks.items():
        moments = sorted(times.get(path, []))
        first = calendar.timegm(first_check_at.timetuple()) + first_check_at.microsecond / 1e6
        # Interval 0 is centred on the first check; none comes before it.
        first_interval = max(0, math.ceil((start - first) / interval + 0.5))
        for k in range(first_interval, math.floor((end - first) / interval - 0.5) + 1):
            low = first + (k - 0.5) * interval
            count = bisect.bisect_left(moments, low + interval) - bisect.bisect_left(moments, low)
            windows += 1
            unchecked += count == 0
            repeated += count > 1
        offsets += [moment - (first + round((moment - first) / interval) * interval) for moment in moments
                    if start <= moment < end]
    return {
        "connection_intervals": windows,
        "connection_intervals_unchecked": unchecked,
        "connection_intervals_repeated": repeated,
        "check_offset_p50_s": percentile(offsets, 0.50),
        "check_offset_p95_s": percentile(offsets, 0.95),
        "check_offset_min_s": round(min(offsets), 2) if offsets else None,
        "check_offset_max_s": round(max(offsets), 2) if offsets else None,
    }


def free_seats(base_url: str, regiojet_route_id: str, seat_class: str) -> None:
    control = base_url.rsplit("/restapi", 1)[0] + f"/_fake/routes/{regiojet_route_id}/seats"
    requests.put(control, json={seat_class: 2}, timeout=10).raise_for_status()


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)


def run(arguments: argparse.Namespace, workdir: Path) -> dict:
    rng = random.Random(arguments.seed)
    url = services.recreate_database(arguments.postgres, arguments.database)
    models.setup_database(url)
    per_connection = arguments.routes_per_connection
    if not 1 <= per_connection <= 3 or arguments.routes % per_connection:
        raise SystemExit(
            f"Invalid --routes-per-connection {per_connection}: use 1 to 3, dividing --routes {arguments.routes}"
        )
    connections = pick_connections(arguments.routes // per_connection, DEPARTURE_EVERY_MINUTES, rng, per_connection)
    seeded = seed_routes(url, connections, per_connection, timedelta(seconds=arguments.interval))
    finds = rng.sample(seeded, min(arguments.finds, len(seeded)))

    huey_name = f"regiojet-watch-bench-{os.getpid()}"
    huey = PriorityRedisHuey(huey_name, url=arguments.redis_url, results=False)
    started: list[subprocess.Popen] = []
    smtp = None
    try:
        fake, base_url = services.start_fake_api(arguments.latency_ms, DEPARTURE_EVERY_MINUTES, workdir / "fake.log")
        started.append(fake)
        smtp, inbox = services.start_smtp_server()
        environment = {
            "DATABASE_URL": url,
            "REDIS_URL": arguments.redis_url,
            "HUEY_NAME": huey_name,
            "REGIOJET_API_URL": base_url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "SMTP_USER": "",
            "SMTP_PASSWORD": "",
            "EMAIL_FROM": "alerts@bench.test",
            "CHECK_INTERVAL_SECONDS": str(arguments.interval),
            # The fake API is the system under load here, not RegioJet: lift the request budget.
            "REGIOJET_MAX_REQUESTS_PER_SECOND": "1000",
            "TZ": "UTC",
        }
        consumers = [
            services.start_consumer(environment, arguments.workers, workdir / f"consumer-{index}.log")
            for index in range(arguments.consumers)
        ]
        started.extend(consumers)
        sampler = ProcessSampler([process.pid for process in consumers], huey)
        sampler.start()

        time.sleep(arguments.warmup)
        moments = sorted(rng.uniform(0, arguments.duration) for _ in finds)
        measured = measure(arguments, base_url, list(zip(moments, finds)), inbox, consumers, fake)
        # A found route is no longer checked; its connection still is while another route watches it.
        unfound = [route for route in seeded if route.route_id not in {find.route_id for find in finds}]
        measured.update(connection_windows(requests_made(base_url)["times"], unfound, arguments.interval,
                                           measured.pop("started_at"), measured.pop("ended_at")))
        sampler.stopped.set()
        sampler.join()
        measured.update(
            max_queue_length=sampler.max_queue,
            peak_rss_mb=round(sampler.max_rss_bytes / 2**20, 1),
            cpu_seconds=round(sum(cpu_seconds(process.pid) for process in consumers), 1),
        )
        for index, process in enumerate(consumers):
            if process.poll() is not None:
                raise RuntimeError(f"consumer {index} exited early; see {workdir}/consumer-{index}.log")
    finally:
        for process in reversed(started):
            services.stop_process(process)
        if smtp is not None:
            smtp.stop()
        huey.flush()

    if arguments.sweep_routes:
        measured.update(time_claim_sweep(arguments))
    return dict(
        routes=arguments.routes,
        connections=arguments.routes // arguments.routes_per_connection,
        watchers_per_route=WATCHERS_PER_ROUTE,
        latency_ms=arguments.latency_ms,
        interval_s=arguments.interval,
        consumers=arguments.consumers,
        workers=arguments.workers,
        duration_s=arguments.duration,
        **measured,
    )


def measure(arguments, base_url: str, moments, inbox, consumers, fake) -> dict:
    """Free seats on each route at its moment (seconds from the start) and collect the email delays."""
    start = time.time()
    requests_at_start = detail_requests(base_url)
    cpu_at_start = sum(cpu_seconds(process.pid) for process in consumers)
    fake_cpu_at_start = cpu_seconds(fake.pid)
    appeared: dict[str, float] = {}
    window_counts = []
    next_window = start + arguments.interval
    last_count = requests_at_start
    pending = list(moments)
    while time.time() < start + arguments.duration:
        now = time.time()
        while pending and start + pending[0][0] <= now:
            _, route = pending.pop(0)
            free_seats(base_url, route.regiojet_route_id, route.seat_class)
            for email in route.emails:
                appeared[email] = time.time()
        if now >= next_window:
            count = detail_requests(base_url)
            window_counts.append(count - last_count)
            last_count = count
            next_window += arguments.interval
        time.sleep(0.05)
    for _, route in pending:
        free_seats(base_url, route.regiojet_route_id, route.seat_class)
        for email in route.emails:
            appeared[email] = time.time()
    ended = time.time()
    fake_cpu_in_run = cpu_seconds(fake.pid) - fake_cpu_at_start
    measured_seconds = ended - start
    requests_in_run = detail_requests(base_url) - requests_at_start

    # Wait for the last emails, then two more intervals in which a duplicate would arrive.
    deadline = time.time() + 6 * arguments.interval
    while time.time() < deadline and len({e.recipient for e in inbox.snapshot()} & appeared.keys()) < len(appeared):
        time.sleep(0.2)
    time.sleep(2 * arguments.interval)

    received = inbox.snapshot()
    first_arrival: dict[str, float] = {}
    for email in received:
        first_arrival.setdefault(email.recipient, email.received_at)
    delays = [first_arrival[email] - appeared[email] for email in appeared if email in first_arrival]
    distinct = arguments.routes // arguments.routes_per_connection
    return {
        "emails_expected": len(appeared),
        "emails_missed": len(appeared.keys() - first_arrival.keys()),
        "emails_duplicated": len(received) - len(first_arrival),
        "emails_unexpected": len(first_arrival.keys() - appeared.keys()),
        "alert_delay_p50_s": percentile(delays, 0.50),
        "alert_delay_p95_s": percentile(delays, 0.95),
        "alert_delay_max_s": round(max(delays), 2) if delays else None,
        "checks_per_second": round(requests_in_run / measured_seconds, 1),
        "requests_per_window_per_connection": [round(count / distinct, 3) for count in window_counts],
        "cpu_seconds_in_run": round(sum(cpu_seconds(p.pid) for p in consumers) - cpu_at_start, 1),
        "fake_api_cpu_seconds_in_run": round(fake_cpu_in_run, 1),
        "started_at": start,
        "ended_at": ended,
    }


def time_claim_sweep(arguments) -> dict:
    url = services.recreate_database(arguments.postgres, f"{arguments.database}_sweep")
    output = subprocess.run(
        [sys.executable, "-m", "bench.sweep", url, str(arguments.sweep_routes), str(arguments.interval)],
        cwd=services.REPOSITORY, capture_output=True, text=True, timeout=600, check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    # Let SIGTERM (and SIGINT, which a shell's background job ignores) run the clean-up that
    # stops the fake API and the consumers.
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: sys.exit(1))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    workdir = Path(tempfile.mkdtemp(prefix="regiojet-watch-bench-"))
    result = run(arguments, workdir)
    result["logs"] = str(workdir)
    print(json.dumps(result), flush=True)
    return 0
