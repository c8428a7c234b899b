"""Browser tests: Debian's Chromium driven by Playwright against the app served on loopback.
Tenants are reached as <slug>.localhost:<port>, which Chromium resolves to the loopback.

The server is ours rather than pytest-django's live_server: that one forces a flush of the
whole database after each test, which would wipe the session's tenants and domains."""

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(settings.DATA_DIR) / "e2e"


@pytest.fixture(scope="module")
def live_port(django_db_setup, django_db_blocker):
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    class Server(ThreadedWSGIServer):
        """Remembers its open connections, so that the end of the module can close the ones a
        client keeps alive instead of waiting for their threads to give up."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.open_requests = set()

        def process_request(self, request, client_address):
            self.open_requests.add(request)
            super().process_request(request, client_address)

        def shutdown_request(self, request):
            super().shutdown_request(request)  # closes the thread's database connection too
            self.open_requests.discard(request)

    # The server's threads use the test database (committed data only); each request closes
    # its connection when done (ThreadedWSGIServer.close_request).
    with django_db_blocker.unblock():
        server = Server(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
        server.set_app(StaticFilesHandler(get_wsgi_application()))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.server_port
        server.shutdown()
        server.server_close()
        for request in list(server.open_requests):
            # Wakes the thread waiting on a kept-alive socket: it closes and ends.
            with contextlib.suppress(OSError):
                request.shutdown(socket.SHUT_RDWR)
        # Request threads close their database connection when their socket closes; wait for
        # ours (not the fake providers' threads), or the test database cannot be dropped.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.open_requests:
            time.sleep(0.05)


@pytest.fixture(scope="module")
def browser(live_port):
    """Depends on the server so that it closes first, ending its keep-alive connections."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: ./dev test installs Debian's chromium package.")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the only ORM work left
    # here is pytest-django's per-test transaction around each test, which is safe.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def tenant_url(live_port):
    def url(slug: str, path: str = "/") -> str:
        return f"http://{slug}.localhost:{live_port}{path}"

    return url


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


def _open_page(browser, request, **context_options):
    context = browser.new_context(**context_options)
    page = context.new_page()
    yield page
    outcome = getattr(request.node, "rep_call", None)
    if outcome is not None and outcome.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"failed-{request.node.name}.png"))
    context.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context (no cookies) per test, closed even when the test fails; a
    failing test leaves a screenshot in .data/e2e/failed-<test>.png."""
    yield from _open_page(browser, request)


@pytest.fixture
def phone_page(browser, request):
    yield from _open_page(browser, request, viewport={"width": 390, "height": 844}, is_mobile=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, for the page fixture's failure screenshot."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
