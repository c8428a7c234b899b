"""One release at a time (tenants.release.release_lock): a second ``migrate`` over the same
database refuses at once naming the first, or waits for it with ``--wait``; a release killed
leaves no lock behind. The first release is a real second process holding the lock."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tenants.release import ReleaseRunning, release_lock

ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import sys
import django
django.setup()
from tenants.release import release_lock
with release_lock():
    print("held", flush=True)
    sys.stdin.read()
"""

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_release():
    """Another process holding the release lock of the test database until its stdin closes."""
    # The suite's DATABASE_URL (which may name a socket folder, as the embedded server's does)
    # with the test database's name.
    url = urlunsplit(
        urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + connection.settings_dict["NAME"])
    )
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "saas.settings.test"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "held"
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_second_release_refuses_at_once_naming_the_first(other_release):
    with pytest.raises(ReleaseRunning) as refused, release_lock():
        pytest.fail("two releases held the lock at once")

    message = str(refused.value)
    assert message.startswith("another release is running since 20")
    assert f"pid {other_release.pid} on " in message
    assert "PostgreSQL backend pid " in message


def test_migrate_refuses_while_another_release_runs_and_changes_nothing(other_release, tenant_a):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations")
        recorded = cursor.fetchone()[0]

    with pytest.raises(CommandError) as refused:
        call_command("migrate", interactive=False, verbosity=0, processes=1)

    assert "Not migrating: another release is running since" in str(refused.value)
    assert f"pid {other_release.pid} on " in str(refused.value)
    assert "--wait" in str(refused.value)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations")
        assert cursor.fetchone()[0] == recorded


def test_a_waiting_release_starts_when_the_first_is_killed(other_release):
    told, held = [], threading.Event()

    def second_release():
        with release_lock(wait=True, waiting=told.append):
            held.set()

    waiter = threading.Thread(target=second_release)
    waiter.start()
    try:
        assert not held.wait(1.5)  # still waiting while the first runs
        assert len(told) == 1
        assert f"pid {other_release.pid} on " in told[0]
        assert told[0].endswith(": waiting for it to end")

        # Killed, as a deploy job's release can be: the server drops its session and lock.
        other_release.send_signal(signal.SIGKILL)
        assert held.wait(30)
    finally:
        waiter.join(30)
    with release_lock():  # and the waiting one let it go in turn
        pass
