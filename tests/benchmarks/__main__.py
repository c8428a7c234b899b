"""python -m tests.benchmarks provision [--n N] [--series N] [--json PATH]"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITES = ("provision",)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks")
    parser.add_argument("suite", choices=SUITES)
    parser.add_argument("--n", type=int, default=5, help="tenants per method (default 5)")
    parser.add_argument("--series", type=int, default=100, help="clones back to back (100)")
    parser.add_argument(
        "--json", type=Path, default=ROOT / "tests/benchmarks/results/provision.json"
    )
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    os.environ["DJANGO_SETTINGS_MODULE"] = "saas.settings.local"
    # Provisioning queues the first admin's invitation; an in-process broker takes the
    # message as Redis would, and leaves nothing behind for the next `./dev run` worker.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ.setdefault("CAREBRIDGE_DATA_DIR", str(ROOT / ".data"))
    from saas.devtools.embedded import database_url_ensure

    # A database of its own, so a benchmark never touches the demo data.
    database_url_ensure(Path(os.environ["CAREBRIDGE_DATA_DIR"]), database="carebridge_bench")

    import django

    django.setup()
    from tests.benchmarks import provision

    provision.run(n=args.n, series=args.series, json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
