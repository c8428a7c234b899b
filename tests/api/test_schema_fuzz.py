"""Schemathesis generates requests from our own OpenAPI schema, valid and not, for every
operation; whatever it sends, the API answers with a JSON error or a result, never a 500.
The number of examples is bounded (and derandomised) to keep the suite fast."""

import json

import schemathesis
from django.test.client import ClientHandler
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from crm.api.app import api
from tests.conftest import host_of

EXAMPLES = 12
CONTRACT_EXAMPLES = 10


def test_no_request_the_schema_allows_or_not_ends_in_a_500(api_a):
    raw = api_a.client.get("/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    seen = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            kwargs = {"headers": api_a.headers}
            if case.method.upper() == "GET":
                response = api_a.client.get(case.formatted_path, case.query or {}, **kwargs)
            else:
                response = api_a.client.generic(
                    case.method.upper(),
                    case.formatted_path,
                    json.dumps(case.body) if case.body is not None else "",
                    content_type="application/json",
                    **kwargs,
                )
            assert response.status_code < 500, (case.formatted_path, case.query, case.body)
            assert response["Content-Type"].startswith("application/json")
            seen.append(case.operation.path)

        check()
    assert {
        "/api/v1/encounters/bulk",
        "/api/v1/encounters",
        "/api/v1/tasks",
        "/api/v1/attempts",
        "/api/v1/survey-responses",
        "/api/v1/complaints",
        "/api/v1/contacts/{contact_id}",
        "/api/v1/tasks/{task_id}/attempts",
    } <= set(seen)


# --- The schema as a contract ---------------------------------------------------------------
# As an integrator's client generator reads it: every check schemathesis has (`--checks
# all`), valid and invalid requests, the examples, coverage and fuzzing phases. The schema
# states every constraint the API checks and every status it answers, so each operation
# passes with no failure. Bounded and derandomised, so the run is fast and repeatable.
CONTRACT = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "all", "max-examples": CONTRACT_EXAMPLES},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
        },
        "checks": {"enabled": True},
        # A period ending before it starts, an outcome code, agent or encounter kind the clinic
        # does not have: relations between fields and facts of the clinic's data, which JSON
        # Schema cannot state. Each is a documented 422 with its own code.
        "operations": [
            {
                "include-path": path,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
                    }
                },
            }
            for path in (
                "/api/v1/reports/followup",
                "/api/v1/tasks/{task_id}/attempts",
                "/api/v1/encounters",
            )
        ],
    }
)
contract = schemathesis.openapi.from_dict(
    api.get_openapi_schema(path_prefix="/api/v1"), config=CONTRACT
)


def _django(environ, start_response):
    """The project as a WSGI app through Django's test handler, which keeps the test's
    database connection (and its transaction) across requests."""
    response = ClientHandler()(environ)
    start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
    return [response.content]


contract.app = _django


def test_the_published_schema_is_the_one_checked(api_a):
    assert api_a.client.get("/api/v1/openapi.json").json() == json.loads(
        json.dumps(api.get_openapi_schema(path_prefix="/api/v1"))
    )


@contract.parametrize()
@settings(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_the_contract(case, api_a, tenant_a, settings):
    settings.API_REQUESTS_PER_MINUTE = 1_000_000  # the run sends more than a minute's allowance
    case.call_and_validate(base_url=f"http://{host_of(tenant_a)}", headers=api_a.headers)
