from datetime import timedelta

from django import template
from django.utils import dateformat, timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from ..selectors_kinds import kind_labels

register = template.Library()


def _labels(context) -> dict[str, str]:
    """The clinic's kind labels, read once per page however many encounters it shows."""
    cache = context.render_context
    if "kind_labels" not in cache:
        cache["kind_labels"] = kind_labels()
    return cache["kind_labels"]


@register.simple_tag(takes_context=True)
def kind_label(context, code):
    """An encounter kind as the clinic names it (crm.selectors_kinds)."""
    return _labels(context).get(code, code)


@register.simple_tag(takes_context=True)
def kind_labels_of(context, codes):
    """Several kinds (a rule's), named, joined."""
    labels = _labels(context)
    return ", ".join(labels.get(code, code) for code in codes)


@register.filter
def last_day(end):
    """A window's end is exclusive (00:00 after its last day): the instant just before it,
    so that ``|date`` shows the last day itself."""
    return end - timedelta(microseconds=1) if end else end


@register.filter
def percent(value):
    """A KPI rate: "71.67 %", or "—" when nothing was counted."""
    return "—" if value is None else f"{value} %"


@register.simple_tag(takes_context=True)
def worklist_rows(context, rows, labels):
    """The worklist's table rows. Built here rather than with template tags, and as plain
    strings rather than with format_html: fifty rows of some twenty values each cost ~35 ms
    through the template engine and still ~10 ms through format_html's per-argument
    escaping of lazy strings (the worklist is the page agents reload all day). Every value
    from the database passes through ``escape`` exactly once."""
    csrf = escape(context.get("csrf_token", ""))
    # The list the agent is in (scope and filters): the call page keeps it for "the next".
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in context["list_params"].items()
    )
    safe_labels = {key: escape(str(label)) for key, label in labels.items()}
    rows_html = "\n".join(_worklist_row(row, safe_labels, csrf, hidden) for row in rows)
    return mark_safe(rows_html)  # noqa: S308 - every value was escaped on the way in


def _local(moment, pattern: str) -> str:
    return dateformat.format(timezone.localtime(moment), pattern)


def _worklist_row(row: dict, labels: dict, csrf: str, hidden: str) -> str:
    task = row["task"]
    overdue = row["overdue"]
    due = _local(row["due_day"], "m-d")
    if overdue:
        due += f' <span class="status status-suspended">{labels["overdue"]}</span>'
    if task.next_attempt_at:
        retry = _local(task.next_attempt_at, "m-d H:i")
        due += f'<br><small class="muted">{labels["retry"]} {retry}</small>'
    who = ""
    if task.assignee:
        name = escape(task.assignee.get_full_name() or task.assignee.email)
        who = f'<br><small class="muted">{name}</small>'
    outcome = ""
    if task.last_outcome:
        outcome = f'<br><small class="muted">{escape(row["last_outcome"])}</small>'
    if row["held_by_other"]:
        holder = escape(task.claimed_by.get_full_name() or task.claimed_by.email)
        action = f'<span class="muted">{labels["held"] % {"name": holder}}</span>'
    else:
        button = (
            f'<button type="submit" class="button-small">{labels["call"]}</button>'
            if row["call_now"]
            else f'<button type="submit" class="button-small secondary">{labels["open"]}</button>'
        )
        action = (
            f'<form method="post" action="{escape(row["claim_url"])}" class="inline">'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{csrf}">'
            f"{hidden}{button}</form>"
        )
    contact = task.contact
    unhappy = ""
    if row["unhappy"]:
        lines = "".join(
            f'<br><small><a href="{escape(line["url"])}">{escape(line["text"])}</a></small>'
            if line["url"]
            else f"<br><small>{escape(line['text'])}</small>"
            for line in row["unhappy"]
        )
        unhappy = (
            f' <span class="status status-suspended unhappy">{labels["unhappy"]}</span>{lines}'
        )
    department = escape(task.department.name) if task.department else "—"
    return (
        f'<tr class="{"overdue" if overdue else ""}">'
        f'<td data-label="{labels["due"]}">{due}</td>'
        f'<td data-label="{labels["contact"]}">{escape(contact.name)}'
        f'<br><small class="muted">{escape(contact.record_no)}</small>{unhappy}</td>'
        f'<td data-label="{labels["task"]}">{escape(task.name)} '
        f'<span class="muted">T{task.tier} · {escape(row["channel"])}</span></td>'
        f'<td data-label="{labels["department"]}">{department}{who}</td>'
        f'<td data-label="{labels["attempts"]}">'
        f"{task.attempts_count}/{task.max_attempts}{outcome}</td>"
        f"<td>{action}</td></tr>"
    )


@register.simple_tag
def drill(figure, month, department=None, **filters):
    """The address of the list behind a KPI figure: codes and ids only in the query string."""
    from urllib.parse import urlencode

    from django.urls import reverse

    params = {"figure": figure, "month": month}
    if department is not None:
        params["department"] = department
    params |= {key: value for key, value in filters.items() if value not in (None, "")}
    return f"{reverse('report_list')}?{urlencode(params)}"


@register.simple_tag
def drill_link(value, figure, month, department=None, **filters):
    """A figure linked to the list behind it; plain when the page has no such list (a period
    other than a whole month, or narrowed to an agent, rule or tier)."""
    if not month:
        return value
    return format_html('<a href="{}">{}</a>', drill(figure, month, department, **filters), value)
