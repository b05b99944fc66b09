import pytest

from tests.faults.harness import Consumer


@pytest.fixture
def consumers(tmp_path):
    """Start huey_consumer subprocesses by name; every one still running is killed at the end."""
    started: list[Consumer] = []

    def start(name: str = "consumer", **options) -> Consumer:
        consumer = Consumer(tmp_path / f"{name}.log", **options)
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        consumer.stop()
