"""Contacts and their encounters: search, read (audit-logged), create and correct."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from .. import selectors
from ..forms import ContactEraseForm, ContactForm, EncounterForm
from ..models import Contact, Encounter
from ..phones import phone_mask
from ..roles import ADMINISTER_DATA, EDIT_RECORDS
from ..services import records, retention
from . import search

view_contacts = permission_required("crm.view_contact", raise_exception=True)
SEARCH_KEY = "contacts-search"
edit_records = permission_required(EDIT_RECORDS, raise_exception=True)
administer_data = permission_required(ADMINISTER_DATA, raise_exception=True)


@login_required
@view_contacts
def contact_list(request):
    posted = search.search_posted(request, SEARCH_KEY)
    if posted:
        return posted
    q = search.search_term(request, SEARCH_KEY)
    page = Paginator(selectors.contact_search(q), 50).get_page(request.GET.get("page"))
    rows = [(c, [phone_mask(p.number) for p in c.phones.all() if not p.invalid]) for c in page]
    return render(request, "crm/contact_list.html", {"page": page, "rows": rows, "q": q})


@login_required
@view_contacts
def contact_detail(request, contact_id):
    contact = get_object_or_404(Contact, pk=contact_id)
    records.contact_viewed(contact, request.user)
    encounters = list(
        contact.encounters.select_related("department", "attending").prefetch_related("tasks")
    )
    held = selectors.contact_held_back(contact.pk)
    for encounter in encounters:
        for task in encounter.tasks.all():
            task.held_back = held.get(task.pk)
    phones = [(p, phone_mask(p.number)) for p in contact.phones.all()]
    return render(
        request,
        "crm/contact_detail.html",
        {"contact": contact, "encounters": encounters, "phones": phones},
    )


def _refuse_anonymised(request, contact):
    """An anonymised contact is not edited: what was erased is not to be typed back."""
    if contact.is_anonymised:
        messages.error(request, _("This contact's personal data was erased; it cannot change."))
        return redirect("contact_detail", contact.pk)
    return None


def _save_contact(request, contact):
    refused = _refuse_anonymised(request, contact)
    if refused:
        return refused
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        try:
            saved = records.contact_save(
                contact=form.instance, phones=form.phone_list(), actor=request.user
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Contact saved."))
            return redirect("contact_detail", saved.pk)
    return render(request, "crm/contact_form.html", {"form": form, "contact": contact})


@login_required
@edit_records
def contact_create(request):
    return _save_contact(request, Contact())


@login_required
@edit_records
def contact_edit(request, contact_id):
    contact = get_object_or_404(Contact, pk=contact_id)
    if request.method == "GET":
        records.contact_edit_viewed(contact, request.user)
    return _save_contact(request, contact)


def _save_encounter(request, encounter):
    form = EncounterForm(request.POST or None, instance=encounter)
    if request.method == "POST" and form.is_valid():
        try:
            records.encounter_save(form.instance)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Encounter saved; its follow-ups are being planned."))
            return redirect("contact_detail", encounter.contact_id)
    return render(
        request,
        "crm/encounter_form.html",
        {"form": form, "encounter": encounter, "contact": encounter.contact},
    )


@login_required
@edit_records
def encounter_create(request, contact_id):
    contact = get_object_or_404(Contact, pk=contact_id)
    return _refuse_anonymised(request, contact) or _save_encounter(
        request, Encounter(contact=contact, source="manual")
    )


@login_required
@edit_records
def encounter_edit(request, encounter_id):
    return _save_encounter(request, get_object_or_404(Encounter, pk=encounter_id))


@login_required
@administer_data
def contact_erase(request, contact_id):
    """An administrator erases a patient's personal data on request (PIPL): confirmed, with
    a reason; counts and reports stay as they were."""
    contact = get_object_or_404(Contact, pk=contact_id)
    if contact.is_anonymised:
        return redirect("contact_detail", contact.pk)
    form = ContactEraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        retention.contact_erase(contact, user=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, _("The contact's personal data was erased."))
        return redirect("contact_detail", contact.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "crm/contact_erase.html", {"form": form, "contact": contact}, status=status
    )
