"""Many clinics through one pooler at once, and whether any answer or any row ever belongs to
another clinic (issue 17: connection pooling that cannot leak across clinics).

Every clinic's encounters carry its slug in their external id and its contacts in their name.
Clients hammer random clinics over the integration API: listing encounters, reading a contact
by an id that exists in every clinic (ids are per schema, so 7 is someone in each), and
pushing new encounters. A foreign answer is any item or contact whose mark is another clinic's;
afterwards every clinic's tables are read back for rows of another. Used by the whole-stack
test (small) and `python -m tests.benchmarks scale` (100 clinics, 200 clients)."""

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

SETUP = """
import json
from django_tenants.utils import tenant_context
from crm.services.api_keys import api_key_create
from tenants.services import tenant_provision
keys = {}
for index in range(COUNT):
    slug = f"iso{index:03d}"
    clinic = tenant_provision(name=f"Isolation {index}", slug=slug, kind="hospital",
        admin_email=f"admin@{slug}.test", use_pool=False).tenant
    with tenant_context(clinic):
        _key, keys[slug] = api_key_create(name="load", scopes=["read", "write"])
print("KEYS" + json.dumps(keys))
"""


@dataclass
class IsolationResult:
    requests: int = 0
    foreign: int = 0  # answers holding another clinic's data
    errors: Counter = field(default_factory=Counter)  # status code or exception name → count
    seconds: float = 0.0
    foreign_rows: int = 0  # rows found in the wrong clinic's tables afterwards
    examples: list[str] = field(default_factory=list)


def _mark(slug: str, index: int) -> tuple[str, str]:
    return f"{slug}-e{index}", f"{slug}患者{index}"


def _push(session, base: str, slug: str, start: int, count: int) -> requests.Response:
    rows = []
    for index in range(start, start + count):
        external_id, name = _mark(slug, index)
        rows.append(
            {
                "external_id": external_id,
                "name": name,
                # Yesterday by the stack's real clock (it runs with the real time).
                "occurred_at": time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() - 86400)),
                "phone": f"138{random.randrange(10**8):08d}",
                "kind": "discharge",
            }
        )
    return session.post(
        f"{base}/api/v1/encounters/bulk",
        data=json.dumps({"source": "load", "rows": rows}),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )


def isolation_load(
    *, base: str, host_of, keys: dict[str, str], clients: int, total: int, seed_rows: int = 20
) -> IsolationResult:
    """``base`` is the web's address, ``host_of(slug)`` a clinic's host name, ``keys`` each
    clinic's API key. Seeds every clinic, then runs ``total`` requests from ``clients``
    threads, each with its own kept-alive connection."""
    result = IsolationResult()
    lock = threading.Lock()
    slugs = sorted(keys)
    written = Counter()

    def session_for(slug: str) -> requests.Session:
        session = requests.Session()
        session.headers.update({"Host": host_of(slug), "Authorization": f"Bearer {keys[slug]}"})
        return session

    for slug in slugs:
        response = _push(session_for(slug), base, slug, 0, seed_rows)
        assert response.status_code == 200, response.text[:500]
        written[slug] = seed_rows

    counter = iter(range(total))
    started = time.perf_counter()

    def foreign(slug: str, what: str) -> None:
        with lock:
            result.foreign += 1
            if len(result.examples) < 10:
                result.examples.append(f"{slug} got {what}")

    def client(number: int) -> None:
        rng = random.Random(number)
        sessions: dict[str, requests.Session] = {}
        for _ in counter:
            slug = rng.choice(slugs)
            session = sessions.setdefault(slug, session_for(slug))
            kind = rng.randrange(3)
            try:
                if kind == 0:
                    with lock:
                        start = written[slug]
                        written[slug] += 2
                    response = _push(session, base, slug, start, 2)
                    if (
                        response.ok
                        and response.json()["created"]
                        + response.json()["updated"]
                        + response.json()["unchanged"]
                        != 2
                    ):
                        foreign(slug, f"a push answered {response.text[:200]}")
                elif kind == 1:
                    response = session.get(f"{base}/api/v1/encounters?limit=50", timeout=60)
                    if response.ok:
                        for item in response.json()["items"]:
                            if not item["external_id"].startswith(f"{slug}-"):
                                foreign(slug, f"encounter {item['external_id']}")
                else:
                    contact_id = rng.randrange(1, seed_rows + 1)
                    response = session.get(f"{base}/api/v1/contacts/{contact_id}", timeout=60)
                    if response.ok and not response.json()["name"].startswith(slug):
                        foreign(slug, "another clinic's contact")
                with lock:
                    result.requests += 1
                    # A contact id that this clinic does not have is a 404, as it should be.
                    if not response.ok and not (kind == 2 and response.status_code == 404):
                        result.errors[str(response.status_code)] += 1
            except requests.RequestException as exc:
                with lock:
                    result.requests += 1
                    result.errors[type(exc).__name__] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


CHECK = """
import json
from django_tenants.utils import tenant_context
from crm.models import Contact, Encounter
from tenants.models import Tenant
wrong = 0
for clinic in Tenant.objects.filter(schema_name__startswith="iso"):
    with tenant_context(clinic):
        prefix = clinic.schema_name
        wrong += sum(1 for e in Encounter.objects.values_list("external_id", flat=True)
                     if not e.startswith(prefix + "-"))
        wrong += sum(1 for c in Contact.objects.all() if not c.name.startswith(prefix))
print("WRONG" + json.dumps(wrong))
"""
