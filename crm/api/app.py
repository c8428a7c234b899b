"""The NinjaAPI of /api/v1/: its key authentication, its JSON errors and its routers, one per
resource (encounters.py, followups.py, surveys.py, feedback.py, reports.py). Endpoints are
thin: check the key's scope, parse, call a service or a selector, shape the JSON. Ids and
codes only; personal details only through the contact endpoint, which is audit-logged like
the contact page."""

import orjson
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import ValidationError
from ninja.openapi.docs import Swagger
from ninja.parser import Parser

from . import encounters, feedback, followups, reports, surveys
from .auth import ApiKeyAuth
from .errors import handlers_install


class OrjsonParser(Parser):
    """Bodies parsed by orjson: half the time of the json module for a 10,000-row push. A
    body it cannot read is a 400 like any other unreadable body."""

    def parse_body(self, request):
        return orjson.loads(request.body)

    def parse_querydict(self, data, list_fields, request):
        """The schema's query parameters are single values with names: one given twice
        (``?source=a&source=b``) is refused rather than one of them silently dropped, and so
        is a value without a name."""
        repeated = [key for key in data if key not in list_fields and len(data.getlist(key)) > 1]
        if repeated:
            raise ValidationError(
                [{"loc": ("query", key), "msg": _("Give this parameter once.")} for key in repeated]
            )
        if "" in data:  # "?=x": a value without a name is a client's mistake, not a filter
            raise ValidationError([{"loc": ("query", ""), "msg": _("A parameter needs a name.")}])
        return super().parse_querydict(data, list_fields, request)


# The nightly push from a shell, as the docs show it (and tests/api/test_done_when.py runs it).
CURL_PUSH = (
    'curl -sS -X POST "$CAREBRIDGE_URL/api/v1/encounters/bulk"'
    ' -H "Authorization: Bearer $CAREBRIDGE_API_KEY" -H "Content-Type: application/json"'
    " --data-binary @discharges.json"
)

api = NinjaAPI(
    title="CareBridge API",
    version="1",
    description=(
        "The integration API of one clinic, on the clinic's own domain. Authenticate with an "
        "API key made by the clinic's administrator (page API, /settings/api-keys/): "
        "`Authorization: Bearer cb_…`. Errors are JSON `{code, message}`.\n\n"
        "Yesterday's discharges from a shell, `discharges.json` holding "
        '`{"source": "his", "rows": [{"external_id": "ZY2026-001", "name": "张伟", '
        '"occurred_at": "2026-11-22 10:30", "phone": "13800138001", "department": "骨科"}]}`, '
        "with `CAREBRIDGE_URL` the clinic's address and `CAREBRIDGE_API_KEY` its key:\n\n"
        f"    {CURL_PUSH}"
    ),
    auth=ApiKeyAuth(),
    docs=Swagger(),
    parser=OrjsonParser(),
    urls_namespace="api_v1",
)
handlers_install(api)

# Each router's paths are written in full (the URLs predate the routers); the order is the
# order of the published schema.
api.add_router("", encounters.router)
api.add_router("", followups.router)
api.add_router("", surveys.router)
api.add_router("", feedback.router)
api.add_router("/reports", reports.router)
