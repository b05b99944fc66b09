"""A small asyncio HTTP/1.1 server that serves the fake RegioJet API on loopback.

It keeps connections alive and reads Content-Length bodies only. Its loop does not block:
injected latency and held "timeout" faults are asyncio sleeps, so one thread serves many
concurrent requests.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import signal
import sys
import threading
from collections.abc import Coroutine
from datetime import date
from http import HTTPStatus
from typing import Any

from fake_regiojet.api import API_PREFIX, FakeApi, Reply, error_reply, json_reply

logger = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
START_TIMEOUT_SECONDS = 10


class FakeRegioJetServer:
    """The fake RegioJet API on its own event loop in a background thread.

    Use `start()`/`stop()` or a `with` block; `base_url` is what a RegioJetClient needs.
    The control methods (`set_free_seats`, `set_fault`, ...) change state while it serves.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency_ms: float = 0, seed: int = 1,
                 first_day: date | None = None, departure_every_minutes: int | None = None,
                 all_sold_out: bool = False, record_request_times: bool = False) -> None:
        self.host = host
        self.port = port
        self.api = FakeApi(
            seed=seed,
            latency_ms=latency_ms,
            first_day=first_day,
            departure_every_minutes=departure_every_minutes,
            all_sold_out=all_sold_out,
            record_request_times=record_request_times,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

    # -- lifecycle -----------------------------------------------------------

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{API_PREFIX}"

    def start(self) -> FakeRegioJetServer:
        """Start serving in a background thread; return once the socket listens."""
        if self._thread is not None:
            raise RuntimeError("FakeRegioJetServer is already running; call stop() first")
        _warn_if_not_loopback(self.host)
        self._loop = asyncio.new_event_loop()
        self._run_in_loop_thread()
        try:
            self._call(self._listen())
        except BaseException:
            # Leave no loop thread behind, so a failed start (port in use) can simply be reported.
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=START_TIMEOUT_SECONDS)
            self._loop.close()
            self._thread = None
            self._loop = None
            raise
        logger.info("Fake RegioJet API listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Close the listening socket and every open connection, then end the loop thread."""
        if self._thread is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=START_TIMEOUT_SECONDS)
        self._loop.close()
        self._thread = None
        self._loop = None
        logger.info("Fake RegioJet API on port %s stopped", self.port)

    def __enter__(self) -> FakeRegioJetServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run_in_loop_thread(self) -> None:
        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-regiojet", daemon=True)
        self._thread.start()

    def _call(self, coroutine: Coroutine) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(START_TIMEOUT_SECONDS)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._serve_connection, self.host, self.port, limit=MAX_HEADER_BYTES, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    # -- control API (delegates to FakeApi) ----------------------------------

    def set_free_seats(self, route_id: str, seats: dict[str, int]) -> dict[str, int]:
        return self.api.set_free_seats(route_id, seats)

    def sell_out(self, route_id: str) -> dict[str, int]:
        return self.api.sell_out(route_id)

    def free_seats(self, route_id: str) -> dict[str, int]:
        return self.api.free_seats(route_id)

    def vanish(self, route_id: str) -> None:
        self.api.vanish(route_id)

    def set_latency(self, ms: float) -> None:
        self.api.set_latency(ms)

    def set_fault(self, target: str, kind: str, count: int | None = None, **options: Any) -> None:
        """See FakeApi.set_fault; options are status, retry_after and hold_seconds."""
        self.api.set_fault(target, kind, count, **options)

    def clear_faults(self) -> None:
        self.api.clear_faults()

    def routes(self, day: date | None = None) -> list[dict]:
        return self.api.routes(day)

    def requests_made(self) -> dict[str, Any]:
        return self.api.requests_made()

    def reset(self) -> None:
        self.api.reset()

    def reset_requests(self) -> None:
        self.api.reset_requests()

    # -- HTTP ----------------------------------------------------------------

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self._tasks.add(asyncio.current_task())
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away mid-request, so there is no one to reply to
        except asyncio.CancelledError:
            pass  # stop() cancels every connection; ending quietly keeps asyncio from logging it
        finally:
            self._writers.discard(writer)
            self._tasks.discard(asyncio.current_task())
            writer.transport.abort()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one request and write its reply; return whether the connection stays open."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        request = _parse_head(head)
        if request is None:
            await _write(writer, error_reply(400, "Malformed HTTP request"), keep_alive=False)
            return False
        method, target, version, headers = request

        length = int(headers.get("content-length", "0") or 0)
        if length > MAX_BODY_BYTES:
            await _write(writer, error_reply(413, f"Body of {length} bytes is over {MAX_BODY_BYTES}"), False)
            return False
        body = await reader.readexactly(length) if length else b""

        reply = self._handle(method, target, headers, body)
        delay = self.api.latency_seconds(target)
        if delay:
            await asyncio.sleep(delay)
        if reply.action == "close":
            writer.transport.abort()
            return False
        if reply.action == "timeout":
            await asyncio.sleep(reply.hold_seconds)
            writer.transport.abort()
            return False

        keep_alive = _wants_keep_alive(version, headers)
        await _write(writer, reply, keep_alive, head_only=method == "HEAD")
        return keep_alive

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        try:
            return self.api.handle(method, target, headers, body)
        except Exception as error:  # a bug in the fake must reply 500, not kill the connection
            logger.exception("Fake RegioJet failed on %s %s", method, target.split("?")[0])
            return error_reply(500, f"Fake RegioJet internal error: {error}")


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]] | None:
    try:
        lines = head.decode("iso-8859-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        return None
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return method.upper(), target, version.strip(), headers


def _wants_keep_alive(version: str, headers: dict[str, str]) -> bool:
    connection = headers.get("connection", "").lower()
    if version == "HTTP/1.0":
        return connection == "keep-alive"
    return connection != "close"


async def _write(writer: asyncio.StreamWriter, reply: Reply, keep_alive: bool, head_only: bool = False) -> None:
    reason = HTTPStatus(reply.status).phrase if reply.status in HTTPStatus._value2member_map_ else "Unknown"
    lines = [
        f"HTTP/1.1 {reply.status} {reason}",
        f"Content-Type: {reply.content_type}",
        f"Content-Length: {len(reply.body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
        *(f"{name}: {value}" for name, value in reply.headers.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1"))
    if not head_only:
        writer.write(reply.body)
    await writer.drain()


def _warn_if_not_loopback(host: str) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        logger.warning("Fake RegioJet binds to %s, which is not a loopback address", host)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fake-regiojet",
        description="Serve a fake RegioJet REST API (locations, search, route detail) for offline use and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port; 0 picks a free one (default: 8765)")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay added to every API reply, in ms")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated timetable and seats")
    parser.add_argument(
        "--departure-every-minutes",
        type=int,
        default=None,
        help="run every line this many minutes apart all day instead of its usual departures (benchmarks)",
    )
    parser.add_argument("--all-sold-out", action="store_true", help="start with no free seat in any class")
    parser.add_argument(
        "--record-request-times",
        action="store_true",
        help="list the time of every request in GET /_fake/requests (benchmarks; memory grows with every request)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if arguments.departure_every_minutes is not None and not 1 <= arguments.departure_every_minutes <= 1440:
        raise SystemExit(
            f"Invalid --departure-every-minutes {arguments.departure_every_minutes}: use 1 to 1440"
        )
    server = FakeRegioJetServer(
        arguments.host,
        arguments.port,
        arguments.latency_ms,
        arguments.seed,
        departure_every_minutes=arguments.departure_every_minutes,
        all_sold_out=arguments.all_sold_out,
        record_request_times=arguments.record_request_times,
    )

    stopped = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopped.set())

    try:
        server.start()
    except OSError as error:
        print(
            f"fake-regiojet: cannot listen on {arguments.host}:{arguments.port}: {error.strerror}. "
            "Stop the program using that port, or pick another with --port N and set "
            f"REGIOJET_API_URL=http://{arguments.host}:N/restapi for regiojet-watch.",
            file=sys.stderr,
        )
        return 1

    try:
        # One line on stdout, so a script that started the server can read the URL.
        print(json.dumps({"base_url": server.base_url, "port": server.port}), flush=True)
        stopped.wait()
    finally:
        server.stop()
    return 0
