"""./dev run | ./dev test [pytest args]"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .embedded import database_url_ensure

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("CAREBRIDGE_DATA_DIR", ROOT / ".data"))
PYTHON = sys.executable
USAGE = "usage: ./dev run | ./dev test [pytest arguments]"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(USAGE, file=sys.stderr)
        return 2
    os.chdir(ROOT)
    os.environ.setdefault("CAREBRIDGE_DATA_DIR", str(DATA_DIR))
    assets_ensure()
    system_packages_ensure(browser=argv[0] == "test")
    if argv[0] == "run":
        return run()
    return test(argv[1:])


def manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], check=True)


def run() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.local")
    port = os.environ.get("PORT", "8000")
    os.environ.setdefault("TENANT_URL_PORT", port)
    database_url_ensure(DATA_DIR)
    (DATA_DIR / "broker").mkdir(parents=True, exist_ok=True)  # the filesystem transport's queue
    print("Migrating the database (first run takes a minute) …", flush=True)
    manage("migrate", "--verbosity", "0")
    manage("collectstatic", "--noinput", "--verbosity", "0")
    manage("demo_setup")

    commands = {
        "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}"],
        "worker": [PYTHON, "-m", "celery", "-A", "saas", "worker", "--loglevel", "INFO",
                   "--concurrency", "2"],
        "beat": [PYTHON, "-m", "celery", "-A", "saas", "beat", "--loglevel", "INFO",
                 "--schedule", str(DATA_DIR / "celerybeat-schedule")],
    }  # fmt: skip
    processes = {
        name: subprocess.Popen(cmd, start_new_session=True) for name, cmd in commands.items()
    }

    stopping = False

    def stop(_signum=None, _frame=None):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print("CareBridge is running. Press Ctrl-C to stop.\n", flush=True)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with code {process.returncode}; stopping.", file=sys.stderr)
                exit_code = process.returncode or 1
                stopping = True
        time.sleep(0.5)

    for name, process in processes.items():
        if process.poll() is None:
            # runserver's autoreloader runs the server in a child: end the whole group. Celery
            # stops its own pool on SIGTERM (a warm shutdown).
            if name == "web":
                os.killpg(process.pid, signal.SIGTERM)
            else:
                process.terminate()
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    print("Stopped.")
    return exit_code


def assets_ensure() -> None:
    """The browser libraries of package-lock.json (chart.js for the dashboard), installed by
    `npm ci` into node_modules/ and served as static files. Installed again whenever the lock
    file changes: a stamp in node_modules/ holds the hash of the lock it was installed from."""
    lock = ROOT / "package-lock.json"
    stamp = ROOT / "node_modules" / ".carebridge-installed"
    wanted = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    if not shutil.which("npm"):
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            sys.exit("The dashboard's charts are installed with npm: install Node.js and npm.")
        print("Installing Node.js and npm (Debian packages) for the browser assets …", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "npm"], check=True, env=env)
    print("Installing browser assets (npm ci) …", flush=True)
    subprocess.run(
        ["npm", "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], check=True
    )
    stamp.write_text(wanted)


# A TrueType Chinese font the PDF exports embed (crm.reporting.exports.pdf); Chromium draws the
# pages' Chinese with it too.
CJK_FONT_PACKAGE = ("fonts-wqy-microhei", Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"))


def system_packages_ensure(*, browser: bool) -> None:
    """Debian packages the product (the Chinese font) and its tests (Chromium, curl) use:
    installed with apt-get when missing and we are root, else named so a person can."""
    wanted = []
    if not CJK_FONT_PACKAGE[1].exists():
        wanted.append(CJK_FONT_PACKAGE[0])
    if (
        browser
        and not shutil.which("chromium")
        and not os.environ.get("CAREBRIDGE_SKIP_BROWSER_INSTALL")
    ):
        wanted.append("chromium")
    # The API's end-to-end test pushes discharges with curl, as the docs show an integrator.
    if browser and not shutil.which("curl"):
        wanted.append("curl")
    # The whole-stack test (tests/stack/) puts Debian's PgBouncer in front of PostgreSQL.
    if browser and not (shutil.which("pgbouncer") or Path("/usr/sbin/pgbouncer").exists()):
        wanted.append("pgbouncer")
    if not wanted:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(f"Missing Debian packages: {' '.join(wanted)} (apt-get install).", file=sys.stderr)
        return
    print(f"Installing {' '.join(wanted)} (Debian packages) …", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *wanted], check=True, env=env)


def test(pytest_args: list[str]) -> int:
    os.environ["DJANGO_SETTINGS_MODULE"] = "saas.settings.test"
    database_url_ensure(DATA_DIR)
    return subprocess.run([PYTHON, "-m", "pytest", *pytest_args]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
