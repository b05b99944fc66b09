"""Private PostgreSQL and Redis servers on free loopback ports, for tests that restart them.

Other test runs share the machine's PostgreSQL and Redis, so a restart test starts its own server
in a temporary directory and stops it afterwards. A server that cannot start raises
ServerStartError, which fails the test instead of skipping it.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import closing
from pathlib import Path

import psycopg2
import redis

START_TIMEOUT_SECONDS = 30

# initdb refuses to run as root, so a root test run (as in CI) runs the PostgreSQL tools as this user.
POSTGRES_SYSTEM_USER = "postgres"


class ServerStartError(RuntimeError):
    """A private test server could not be started."""


def free_port() -> int:
    """Return a loopback TCP port that no process listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A Redis server without persistence, so a restart empties it as a crash would."""

    def __init__(self, log_path: Path):
        self.port = free_port()
        self.log_path = log_path
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerStartError("redis-server is not on PATH: install Redis to run the restart tests")

        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"]
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.wait_until_ready()

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError as error:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise ServerStartError(f"Redis on port {self.port} did not start: {error}; see {self.log_path}") from error
                time.sleep(0.1)
            finally:
                client.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, with trust authentication for user postgres."""

    def __init__(self):
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="regiojet-watch-postgres-"))
        self.data_directory = self.directory / "data"
        self.log_path = self.directory / "server.log"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.binaries = find_postgres_binaries()

        if os.geteuid() == 0:
            # The cluster's files must belong to the user that runs the server.
            user = pwd.getpwnam(POSTGRES_SYSTEM_USER)
            os.chown(self.directory, user.pw_uid, user.pw_gid)

    def run_tool(self, name: str, *arguments: str) -> None:
        command = [str(self.binaries / name), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", POSTGRES_SYSTEM_USER, "--", *command]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_SECONDS + 30)
        if completed.returncode != 0:
            raise ServerStartError(f"{name} {' '.join(arguments)} failed (exit {completed.returncode}): {completed.stderr.strip()}; see {self.log_path}")

    def server_options(self) -> str:
        return f"-p {self.port} -k {self.directory} -h 127.0.0.1"

    def start(self) -> None:
        if not self.data_directory.exists():
            self.run_tool("initdb", "-D", str(self.data_directory), "-U", "postgres", "--auth=trust")
        self.run_tool("pg_ctl", "-D", str(self.data_directory), "-o", self.server_options(), "-l", str(self.log_path),
                      "-t", str(START_TIMEOUT_SECONDS), "-w", "start")

    def restart(self) -> None:
        """Restart the server with fast shutdown, which ends every client connection."""
        self.run_tool("pg_ctl", "-D", str(self.data_directory), "-o", self.server_options(), "-l", str(self.log_path),
                      "-t", str(START_TIMEOUT_SECONDS), "-m", "fast", "-w", "restart")

    def stop(self) -> None:
        if (self.data_directory / "postmaster.pid").exists():
            self.run_tool("pg_ctl", "-D", str(self.data_directory), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def query(self, sql: str) -> list[tuple]:
        with closing(psycopg2.connect(self.url, connect_timeout=5)) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()


def find_postgres_binaries() -> Path:
    """Return the bin directory of the newest PostgreSQL installed under /usr/lib/postgresql."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(Path(path).parts[-3]))
    if not candidates:
        raise ServerStartError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: install the postgresql package")
    return Path(candidates[-1]).parent
