"""Schemathesis generates requests from our own OpenAPI schema, valid and not, for every
operation; whatever it sends, the API answers with a JSON error or a result, never a 500.
The number of examples is bounded (and derandomised) to keep the suite fast."""

import json

import schemathesis
from hypothesis import HealthCheck, given, settings

EXAMPLES = 12


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
