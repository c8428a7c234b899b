"""The clinic's words for the people it follows up (issue 19 §2: any service business,
configured, not coded). A car dealer's agents call customers by their customer number and
report per kind of service; a hospital's call patients by their inpatient or medical record
number and report per kind of patient. Pages read these through the ``words`` template
variable (crm.context_processors), the report's files through ``clinic_vocabulary()``, so a
term reads the same on the page and in the PDF and the workbook.

The kind of business is the clinic's Tenant.kind, read from the connection the way the rest
of crm reads the clinic (crm never imports django_tenants). Model fields and stored values
keep their names: only what a reader sees changes."""

from dataclasses import dataclass

from django.db import connection
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

SERVICE = "service"


@dataclass(frozen=True)
class Vocabulary:
    contact: Promise  # a column or field naming the person
    contacts: Promise  # the list of them
    new_contact: Promise
    edit_contact: Promise
    record_no: Promise
    search_hint: Promise  # the search boxes of the worklist and the contacts page
    kind: Promise  # the heading of a per-kind table
    by_kind: Promise
    rate_by_kind: Promise
    # The targets page's note on targets per kind; None: the page's own, which quotes the
    # hospital regulations.
    targets_help: Promise | None = None
    # Transferred elsewhere and readmitted are a hospital's figures: a service business shows
    # them only once one was recorded, so a nonzero count is never hidden but a dealer's
    # report does not carry two lines that can only read 0.
    hides_zero_hospital_figures: bool = False


# A hospital's, a dental and an aesthetic clinic's words are the ones the product always used
# (the same msgids, so their pages and translations stay as they are).
HEALTHCARE = Vocabulary(
    contact=_("Contact"),
    contacts=_("Contacts"),
    new_contact=_("New contact"),
    edit_contact=_("Edit contact"),
    record_no=_("Record number"),
    search_hint=_("Full name, record number or last 4 digits of a phone"),
    kind=_("Kind of patient"),
    by_kind=_("By kind of patient"),
    rate_by_kind=_("Follow-up rate per kind of patient"),
)

SERVICE_BUSINESS = Vocabulary(
    contact=pgettext_lazy("service business", "Customer"),
    contacts=pgettext_lazy("service business", "Customers"),
    new_contact=pgettext_lazy("service business", "New customer"),
    edit_contact=pgettext_lazy("service business", "Edit customer"),
    record_no=pgettext_lazy("service business", "Customer number"),
    search_hint=pgettext_lazy(
        "service business", "Full name, customer number or last 4 digits of a phone"
    ),
    kind=pgettext_lazy("service business", "Kind of service"),
    by_kind=pgettext_lazy("service business", "By kind of service"),
    rate_by_kind=pgettext_lazy("service business", "Follow-up rate per kind of service"),
    targets_help=pgettext_lazy(
        "service business",
        "Each kind of service may have a target of its own, e.g. the calls after a sale held "
        "higher than the calls after a service. A kind left empty is held to the follow-up "
        "rate above; a department's own for a kind replaces the whole business's.",
    ),
    hides_zero_hospital_figures=True,
)


def vocabulary_of(kind: str) -> Vocabulary:
    """The words of a kind of clinic (Tenant.Kind's value)."""
    return SERVICE_BUSINESS if kind == SERVICE else HEALTHCARE


def clinic_vocabulary() -> Vocabulary:
    """The words of the clinic the connection serves; outside a clinic (the public schema),
    the healthcare words."""
    return vocabulary_of(getattr(getattr(connection, "tenant", None), "kind", ""))
