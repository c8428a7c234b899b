"""python -m tests.benchmarks SUITE [options]; ``python -m tests.benchmarks SUITE --help``
lists the options of one suite.

  provision [--n N] [--series N] [--series-old N] [--json PATH]
  followup  [--tasks N] [--encounters N] [--plan-encounters N] [--tenants N] [--requests N]
            [--only PART ...] [--rebuild] [--drop-fanout] [--json PATH]
  surveys   [--only page outbox] [--users N] [--seconds N] [--workers N] [--messages N]
            [--providers twilio aliyun tencent]
            [--concurrency N] [--broker URL] [--json PATH]
  billing   [--events N] [--json PATH]
  cms       [--seconds S] [--concurrency N] [--workers N] [--json PATH]
  api       [--rows N] [--streams N] [--json PATH]
  kpi       [--tasks N] [--encounters N] [--requests N] [--rebuild] [--json PATH]
  scale     [--clinics N] [--reuse] [--setup-only] [--only PART ...] [--baseline-clinics N]
            [--series N] [--pooled N] [--broker URL] [--json PATH]
"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests/benchmarks/results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks")
    suites = parser.add_subparsers(dest="suite", required=True, metavar="SUITE")

    provision = suites.add_parser("provision", help="tenant provisioning (issue 2)")
    provision.add_argument("--n", type=int, default=5, help="tenants per method (default 5)")
    provision.add_argument("--series", type=int, default=100, help="clones back to back (100)")
    provision.add_argument(
        "--series-old",
        type=int,
        default=None,
        help="clinics by the old clone_schema(), for comparison (as many as --series)",
    )
    provision.add_argument("--json", type=Path, default=RESULTS / "provision.json")
    provision.set_defaults(database="carebridge_bench")

    followup = suites.add_parser("followup", help="worklist, planning, beat fan-out (issue 3)")
    followup.add_argument("--tasks", type=int, default=1_000_000, help="worklist tenant tasks")
    followup.add_argument("--encounters", type=int, default=200_000, help="... over N encounters")
    followup.add_argument(
        "--plan-encounters", type=int, default=100_000, help="new encounters to plan (100000)"
    )
    followup.add_argument("--tenants", type=int, default=500, help="tenants in the fan-out (500)")
    followup.add_argument(
        "--requests", type=int, default=200, help="timed requests per worklist page (200)"
    )
    followup.add_argument(
        "--only",
        nargs="+",
        choices=("worklist", "planning", "fanout"),
        default=["worklist", "planning", "fanout"],
        help="run only these parts (default: all three)",
    )
    followup.add_argument(
        "--rebuild", action="store_true", help="regenerate the worklist tenant's data"
    )
    followup.add_argument(
        "--drop-fanout", action="store_true", help="drop the fan-out tenants after the run"
    )
    followup.add_argument("--json", type=Path, default=RESULTS / "followup.json")
    surveys = suites.add_parser("surveys", help="survey page under load, outbox (issue 4)")
    surveys.add_argument(
        "--only", nargs="+", choices=("page", "outbox"), default=["page", "outbox"]
    )
    surveys.add_argument("--users", type=int, default=50, help="concurrent patients (50)")
    surveys.add_argument("--seconds", type=int, default=30, help="per load run (30)")
    surveys.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    surveys.add_argument("--messages", type=int, default=10_000, help="outbox messages")
    surveys.add_argument("--concurrency", type=int, default=4, help="Celery worker processes")
    surveys.add_argument(
        "--providers",
        nargs="+",
        choices=("twilio", "aliyun", "tencent"),
        default=["twilio", "aliyun", "tencent"],
        help="SMS providers the outbox is measured through, one line each",
    )
    surveys.add_argument(
        "--broker", default="redis://127.0.0.1:6379/14", help="a real broker for the outbox"
    )
    surveys.add_argument("--json", type=Path, default=RESULTS / "surveys.json")
    surveys.set_defaults(database="carebridge_bench_surveys")
    # Its million tasks and 500 tenants are kept between runs: not in carebridge_bench, where
    # the provision suite drops every bench-* tenant and times clones against the catalog.
    followup.set_defaults(database="carebridge_bench_followup")
    billing = suites.add_parser("billing", help="Stripe webhooks (issue 8)")
    billing.add_argument("--events", type=int, default=1000, help="events delivered (1000)")
    billing.add_argument("--json", type=Path, default=RESULTS / "billing.json")
    billing.set_defaults(database="carebridge_bench")

    cms = suites.add_parser("cms", help="article page under load, gunicorn (issue 7)")
    cms.add_argument("--seconds", type=float, default=20, help="timed seconds per scenario (20)")
    cms.add_argument("--concurrency", type=int, default=8, help="connections in flight (8)")
    cms.add_argument("--workers", type=int, default=3, help="gunicorn workers (3)")
    cms.add_argument("--json", type=Path, default=RESULTS / "cms.json")
    cms.set_defaults(database="carebridge_bench_cms")
    api = suites.add_parser("api", help="bulk intake through the API vs raw COPY (issue 6)")
    api.add_argument("--rows", type=int, default=100_000, help="encounters pushed (100000)")
    api.add_argument(
        "--streams", type=int, default=1, help="also push from N processes at once (1: not)"
    )
    api.add_argument("--json", type=Path, default=RESULTS / "api.json")
    api.set_defaults(database="carebridge_bench_api")
    kpi = suites.add_parser("kpi", help="KPI report, dashboard, exactness on 1M tasks (issue 5)")
    kpi.add_argument("--tasks", type=int, default=1_000_000, help="tasks in the tenant")
    kpi.add_argument("--encounters", type=int, default=200_000, help="... over N encounters")
    kpi.add_argument("--requests", type=int, default=50, help="timed requests per page (50)")
    kpi.add_argument("--rebuild", action="store_true", help="regenerate the tenant's data")
    kpi.add_argument("--json", type=Path, default=RESULTS / "kpi.json")
    kpi.set_defaults(database="carebridge_bench_kpi")
    scale = suites.add_parser("scale", help="a thousand clinics on one database (issue 17)")
    scale.add_argument("--clinics", type=int, default=1000, help="clinic schemas (1000)")
    scale.add_argument(
        "--reuse", action="store_true", help="keep the clinics of an earlier run, make the rest"
    )
    scale.add_argument(
        "--only",
        nargs="+",
        choices=("noop", "release", "provision", "fanout", "memory", "isolation"),
        default=["noop", "release", "provision", "fanout", "memory", "isolation"],
        help="run only these parts (default: all)",
    )
    scale.add_argument(
        "--setup-only", action="store_true", help="make the clinics, measure nothing"
    )
    scale.add_argument(
        "--baseline-clinics",
        type=int,
        default=None,
        help="time the pre-fingerprint baseline on N clinics and extrapolate (default: all)",
    )
    scale.add_argument(
        "--series", type=int, default=100, help="new clinics provisioned by clone (100)"
    )
    scale.add_argument("--pooled", type=int, default=10, help="new clinics from the pool (10)")
    scale.add_argument(
        "--broker", default="redis://127.0.0.1:6379/13", help="a real broker for the fan-out"
    )
    scale.add_argument("--json", type=Path, default=RESULTS / "scale.json")
    scale.set_defaults(database="carebridge_bench_scale")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)

    os.chdir(ROOT)
    os.environ["DJANGO_SETTINGS_MODULE"] = "saas.settings.local"
    # Timed as production serves: without DEBUG's query log and debug templates.
    os.environ.setdefault("DEBUG", "0")
    # Provisioning queues the first admin's invitation, the fan-out one tick per tenant; an
    # in-process broker takes the messages as Redis would, and leaves nothing behind for the
    # next `./dev run` worker.
    os.environ["CELERY_BROKER_URL"] = getattr(args, "broker", "memory://")
    os.environ.setdefault("CAREBRIDGE_DATA_DIR", str(ROOT / ".data"))
    if args.suite == "scale":
        # A thousand clinics' pages created and deleted: not one INFO line each.
        os.environ.setdefault("LOG_LEVEL", "WARNING")
    from saas.devtools.embedded import database_url_ensure

    # A database of its own, so a benchmark never touches the demo data.
    database_url_ensure(Path(os.environ["CAREBRIDGE_DATA_DIR"]), database=args.database)

    import django

    django.setup()
    from django.core.management import call_command

    # Pages are served as in production, by the manifest storage: it needs collected files.
    call_command("collectstatic", interactive=False, verbosity=0)
    if args.suite == "provision":
        from tests.benchmarks import provision

        provision.run(n=args.n, series=args.series, series_old=args.series_old, json_path=args.json)
    elif args.suite == "surveys":
        from tests.benchmarks import surveys

        surveys.run(
            parts=args.only,
            users=args.users,
            seconds=args.seconds,
            workers=args.workers,
            messages=args.messages,
            concurrency=args.concurrency,
            json_path=args.json,
            providers=args.providers,
        )
    elif args.suite == "api":
        from tests.benchmarks import api

        api.run(n=args.rows, streams=args.streams, json_path=args.json)
    elif args.suite == "kpi":
        from tests.benchmarks import kpi

        kpi.run(
            tasks=args.tasks,
            encounters=args.encounters,
            requests=args.requests,
            rebuild=args.rebuild,
            json_path=args.json,
        )
    elif args.suite == "scale":
        from tests.benchmarks import scale

        scale.run(
            clinics=args.clinics,
            reuse=args.reuse,
            parts=[] if args.setup_only else args.only,
            baseline_clinics=args.baseline_clinics,
            json_path=args.json,
            series=args.series,
            pooled=args.pooled,
        )
    elif args.suite == "billing":
        from tests.benchmarks import billing

        billing.run(n=args.events, json_path=args.json)
    elif args.suite == "cms":
        from tests.benchmarks import cms

        cms.run(
            seconds=args.seconds,
            concurrency=args.concurrency,
            workers=args.workers,
            json_path=args.json,
        )
    else:
        from tests.benchmarks import followup

        followup.run(
            tasks=args.tasks,
            encounters=args.encounters,
            plan_encounters=args.plan_encounters,
            tenants=args.tenants,
            requests=args.requests,
            parts=args.only,
            rebuild=args.rebuild,
            drop_fanout=args.drop_fanout,
            json_path=args.json,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
