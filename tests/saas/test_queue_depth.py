"""carebridge_celery_queue_messages (saas.metrics.CeleryQueueCollector) against a real Redis:
messages published with no worker are counted per queue; a broker out of reach leaves the
sample out of the scrape instead of failing it."""

import shutil
import socket
import subprocess
import time

import pytest
import redis
from celery import Celery
from prometheus_client import CollectorRegistry, generate_latest

from saas.metrics import CeleryQueueCollector

# Database 13 of the Redis on the usual port, emptied by each test; without one, a
# redis-server of the test's own.
LOCAL_REDIS = "redis://127.0.0.1:6379/13"


def _answers(url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    if _answers(LOCAL_REDIS):
        yield LOCAL_REDIS
        return
    if not shutil.which("redis-server"):
        pytest.fail("No Redis on 127.0.0.1:6379 and no redis-server to start one")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not _answers(url):
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def broker(redis_url):
    """A Celery app of its own on the real Redis (the suite's app stays on memory://)."""
    redis.Redis.from_url(redis_url).flushdb()
    app = Celery("queue-depth-test", broker=redis_url, set_as_current=False)
    app.conf.task_routes = {"tests.report_probe": {"queue": "reports"}}
    yield app
    app.close()
    redis.Redis.from_url(redis_url).flushdb()


def depth(app: Celery, queue: str) -> float | None:
    registry = CollectorRegistry()
    registry.register(CeleryQueueCollector(app))
    return registry.get_sample_value("carebridge_celery_queue_messages", {"queue": queue})


def test_messages_waiting_in_redis_are_counted_per_queue(broker):
    for n in range(7):
        broker.send_task("tests.followup_probe", args=(n,))
    for n in range(2):
        broker.send_task("tests.report_probe", args=(n,))

    assert depth(broker, "celery") == 7
    assert depth(broker, "reports") == 2


def test_an_empty_queue_reads_zero(broker):
    # Redis keeps no key for an empty list: the passive declare answers NOT_FOUND.
    assert depth(broker, "celery") == 0
    assert depth(broker, "reports") == 0


def test_a_broker_out_of_reach_leaves_the_sample_out():
    unreachable = Celery("queue-depth-down", broker="redis://127.0.0.1:1/0", set_as_current=False)
    registry = CollectorRegistry()
    registry.register(CeleryQueueCollector(unreachable, seconds=1))

    exposition = generate_latest(registry).decode()

    assert "carebridge_celery_queue_messages{" not in exposition
    unreachable.close()
