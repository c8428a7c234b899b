"""The clinic's audit trail for its administrators: who read, exported or changed what, and
when, filtered and downloadable. Reading this page is not itself audited; downloading is."""

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from ..forms import AuditFilterForm
from ..selectors_audit import AuditFilters, audit_detail_text, audit_entries
from ..services.audit import audit_csv
from . import search

view_audit = permission_required("crm.view_auditentry", raise_exception=True)
# The contact filter is a record number, which identifies a patient: posted and kept in
# the session like every personal search term, never in the URL.
CONTACT_KEY = "audit-contact"


def _filters(request) -> tuple[AuditFilterForm, AuditFilters | None]:
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    return form, AuditFilters(
        actor_id=data["actor"].pk if data["actor"] else None,
        action=data["action"],
        record_no=search.search_term(request, CONTACT_KEY),
        since=data["since"],
        until=data["until"],
    )


@login_required
@view_audit
def audit_list(request):
    posted = search.search_posted(request, CONTACT_KEY)
    if posted:
        return posted
    form, filters = _filters(request)
    page = None
    if filters is not None:
        page = Paginator(audit_entries(filters), 50).get_page(request.GET.get("page"))
        for entry in page:
            entry.detail_text = audit_detail_text(entry)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "crm/audit_list.html",
        {
            "form": form,
            "page": page,
            "q": search.search_term(request, CONTACT_KEY),
            "query": query.urlencode(),
        },
        status=200 if filters is not None else 400,
    )


@login_required
@view_audit
def audit_export(request):
    form, filters = _filters(request)
    if filters is None:
        return render(
            request,
            "crm/audit_list.html",
            {"form": form, "page": None, "q": search.search_term(request, CONTACT_KEY)},
            status=400,
        )
    body = audit_csv(filters, user=request.user)
    # A byte-order mark: Excel opens UTF-8 (Chinese names) correctly only with one.
    response = HttpResponse("\ufeff" + body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    return response
