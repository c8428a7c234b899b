"""The monthly follow-up summary as files a follow-up centre hands to the hospital's leadership:
an XLSX workbook and a printable A4 PDF. Both are laid out from one crm.reports.Report, with
the report page's labels, so a figure reads the same on the page and in either file."""

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from itertools import groupby
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from surveys.models import Dimension

from .models import Complaint, KpiTarget
from .reports import Report
from .spreadsheets import workbook_text_only

DASH = "—"
PERCENT_FORMAT = "0.00 %"
POINTS_FORMAT = "0.00"


def definitions() -> str:
    """The footnote of the report page, word for word: the same msgid, so both languages read
    the same definitions wherever the report is shown."""
    return _(
        "Eligible: encounters of the month matched by a rule and not excluded. Coverage rate: "
        "eligible encounters with at least one attempt / eligible. Follow-up rate: eligible "
        "encounters with a completed follow-up / eligible. Loss rate: eligible encounters "
        "whose every follow-up ended unreachable / eligible. Timeliness: completed follow-ups "
        "reached inside their window / completed follow-ups. Satisfaction rate: satisfied "
        "responses / responses with a rating, submitted in the month. Replied on time: "
        "complaints due in the month replied by their deadline / complaints due. Rates are "
        "computed from the counts shown."
    )


def denominator_note() -> str:
    """How the follow-up rate changed when missing numbers stopped being exclusions (issue
    19): the same msgid as the report page, so a reader comparing with an older report knows
    why the rate fell."""
    return _(
        "An encounter without a usable phone number or email address counts as eligible and "
        "not followed up (reason: no contact information). Earlier reports excluded it, so "
        "for the same month they showed fewer eligible encounters and a higher follow-up rate."
    )


def title(report: Report) -> str:
    return _("Follow-up report · %(month)s") % {"month": report.period.start.strftime("%Y-%m")}


@dataclass
class Line:
    """One headline figure as the page shows it: its count out of a denominator, the rate
    computed from them, and the target it is held to (by KpiTarget metric). A rate is a
    percentage, or points (NPS, hours) when `points`; `has_rate` is off for plain counts."""

    label: str
    count: int | None = None
    of: int | None = None
    rate: Decimal | None = None
    metric: str = ""
    has_rate: bool = True
    points: bool = False


def headline_lines(report: Report) -> list[Line]:
    figures, survey = report.figures, report.satisfaction
    complaints, spot = report.complaints, report.spot_checks
    metric = KpiTarget.Metric
    return [
        Line(_("Eligible encounters"), figures.eligible, has_rate=False),
        Line(
            _("Attempted") + " · " + _("coverage rate"),
            figures.attempted,
            figures.eligible,
            figures.coverage_rate,
        ),
        Line(
            _("Followed up") + " · " + _("follow-up rate"),
            figures.followed_up,
            figures.eligible,
            figures.follow_up_rate,
            metric.FOLLOW_UP_RATE,
        ),
        Line(
            _("Lost to follow-up") + " · " + _("loss rate"),
            figures.lost,
            figures.eligible,
            figures.loss_rate,
        ),
        Line(
            _("Timeliness"),
            figures.completed_in_window,
            figures.completed_tasks,
            figures.timeliness,
            metric.TIMELINESS,
        ),
        Line(
            _("Satisfaction rate"),
            survey.satisfied,
            survey.rated,
            survey.satisfaction_rate,
            metric.SATISFACTION_RATE,
        ),
        Line(_("neutral"), survey.neutral, survey.rated, survey.neutral_share),
        Line(_("dissatisfied"), survey.dissatisfied, survey.rated, survey.dissatisfied_share),
        Line("NPS", None, survey.nps_answers, survey.nps, metric.NPS, points=True),
        Line(_("Complaints received"), complaints.received, has_rate=False),
        Line(
            _("Replied on time"),
            complaints.replied_on_time,
            complaints.due,
            complaints.on_time_rate,
            metric.COMPLAINTS_ON_TIME,
        ),
        Line(_("Median time to reply (hours)"), rate=complaints.median_hours_to_reply, points=True),
        Line(
            _("Spot-check agreement"),
            spot["agree"],
            spot["audits"],
            spot["rate"],
            metric.SPOT_CHECK_AGREEMENT,
        ),
        Line(_("Transferred elsewhere"), figures.transferred, has_rate=False),
        Line(_("Readmitted"), figures.readmitted, has_rate=False),
    ]


def dimension_rows(report: Report) -> list[tuple[str, dict]]:
    labels = dict(Dimension.choices)
    order = list(labels)
    dimensions = report.satisfaction.dimensions
    return [
        (str(labels.get(key, key)), dimensions[key])
        for key in sorted(dimensions, key=lambda key: order.index(key) if key in order else 99)
    ]


def complaint_categories(report: Report) -> list[tuple[str, int]]:
    labels = dict(Complaint.Category.choices)
    return sorted(
        (
            (str(labels.get(key, key or DASH)), n)
            for key, n in report.complaints.by_category.items()
        ),
        key=lambda item: (-item[1], item[0]),
    )


def complaint_departments(report: Report) -> list[tuple[str, int]]:
    return sorted(
        ((name or DASH, n) for name, n in report.complaints.by_department.items()),
        key=lambda item: (-item[1], item[0]),
    )


def filename(report: Report, extension: str) -> str:
    return f"followup-report-{report.period.start:%Y-%m}.{extension}"


# --- XLSX -----------------------------------------------------------------------------------

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
_MISSED_FONT = Font(bold=True, color="C00000")


def _fraction(value: Decimal | None):
    """A percentage as the fraction a spreadsheet formats with "%", or "—"."""
    return DASH if value is None else value / 100


def _sheet(workbook: Workbook, name: str, headers: list[str], rows: list[list], widths: list[int]):
    sheet = workbook.create_sheet(name[:31])
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for row in rows:
        sheet.append(row)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    return sheet


def _format_column(sheet, column: int, number_format: str) -> None:
    for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
        if not isinstance(cell.value, str):
            cell.number_format = number_format
        cell.alignment = Alignment(horizontal="right")


def report_xlsx(report: Report, *, clinic: str) -> bytes:
    """The workbook: a summary sheet of the headline figures with their targets, then
    departments, the unreachable breakdown, satisfaction per dimension and complaints."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    summary_rows = []
    for line in headline_lines(report):
        target = report.targets.get(line.metric) if line.metric else None
        scale = 1 if line.points else 100
        if not line.has_rate:
            value = None
        elif line.rate is None:
            value = DASH
        else:
            value = line.rate / scale
        summary_rows.append(
            [
                line.label,
                line.count,
                line.of,
                value,
                None if target is None else target["target"] / scale,
                _("below target") if target and target["missed"] else None,
            ]
        )
    summary = _sheet(
        workbook,
        pgettext("report sheet", "Summary"),
        [title(report), _("Count"), _("Out of"), _("Rate"), _("Target"), _("Below target")],
        summary_rows,
        [44, 10, 10, 12, 12, 14],
    )
    for index, line in enumerate(headline_lines(report), start=2):
        number_format = POINTS_FORMAT if line.points else PERCENT_FORMAT
        for column in (4, 5):
            cell = summary.cell(row=index, column=column)
            if not isinstance(cell.value, str):
                cell.number_format = number_format
            cell.alignment = Alignment(horizontal="right")
        if summary.cell(row=index, column=6).value:
            summary.cell(row=index, column=6).font = _MISSED_FONT
            summary.cell(row=index, column=4).font = _MISSED_FONT
    footer = summary.max_row + 2
    summary.cell(row=footer, column=1, value=clinic)
    summary.cell(row=footer + 1, column=1, value=definitions())
    summary.merge_cells(start_row=footer + 1, end_row=footer + 1, start_column=1, end_column=6)
    summary.cell(row=footer + 1, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    summary.row_dimensions[footer + 1].height = 150
    summary.cell(row=footer + 2, column=1, value=denominator_note())
    summary.merge_cells(start_row=footer + 2, end_row=footer + 2, start_column=1, end_column=6)
    summary.cell(row=footer + 2, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    summary.row_dimensions[footer + 2].height = 45

    departments = _sheet(
        workbook,
        _("Departments"),
        [
            _("Department"),
            _("Eligible"),
            _("Attempted"),
            _("Followed up"),
            _("Follow-up rate"),
            _("Lost to follow-up"),
            _("Loss rate"),
        ],
        [
            [
                row["name"],
                row["figures"].eligible,
                row["figures"].attempted,
                row["figures"].followed_up,
                _fraction(row["figures"].follow_up_rate),
                row["figures"].lost,
                _fraction(row["figures"].loss_rate),
            ]
            for row in report.departments
        ],
        [28, 10, 10, 12, 14, 14, 12],
    )
    _format_column(departments, 5, PERCENT_FORMAT)
    _format_column(departments, 7, PERCENT_FORMAT)

    _sheet(
        workbook,
        _("Not followed up"),
        [_("Not followed up, by the last attempt"), _("Count")],
        [[str(label), count] for _key, label, count in report.unreachable],
        [40, 16],
    )

    dimensions = _sheet(
        workbook,
        _("Satisfaction"),
        [
            _("Dimension"),
            _("Answers"),
            _("Satisfied"),
            _("Satisfaction rate"),
            _("Score (0–100)"),
        ],
        [
            [label, item["answers"], item["top_two"], _fraction(item["rate"]), item["score"]]
            for label, item in dimension_rows(report)
        ],
        [24, 10, 10, 16, 14],
    )
    _format_column(dimensions, 4, PERCENT_FORMAT)
    _format_column(dimensions, 5, POINTS_FORMAT)

    categories = complaint_categories(report)
    by_department = complaint_departments(report)
    # Two lists side by side, a blank column between them.
    complaint_rows = [
        [
            *(categories[i] if i < len(categories) else (None, None)),
            None,
            *(by_department[i] if i < len(by_department) else (None, None)),
        ]
        for i in range(max(len(categories), len(by_department)))
    ]
    _sheet(
        workbook,
        _("Complaints"),
        [_("Category"), _("Complaints"), "", _("Department"), _("Complaints")],
        complaint_rows,
        [24, 12, 4, 24, 12],
    )

    def held(row: dict, metric: str) -> Decimal | None:
        target = row["targets"].get(metric)
        return _fraction(target["target"]) if target else None

    kinds = _sheet(
        workbook,
        _("By kind of patient"),
        [
            _("Kind of patient"),
            _("Eligible"),
            _("Followed up"),
            _("Follow-up rate"),
            _("Target"),
            _("Timeliness"),
            _("Target"),
        ],
        [
            [
                row["label"],
                row["figures"].eligible,
                row["figures"].followed_up,
                _fraction(row["figures"].follow_up_rate),
                held(row, KpiTarget.Metric.FOLLOW_UP_RATE),
                _fraction(row["figures"].timeliness),
                held(row, KpiTarget.Metric.TIMELINESS),
            ]
            for row in report.kinds
        ],
        [28, 10, 12, 14, 10, 12, 10],
    )
    for column in (4, 5, 6, 7):
        _format_column(kinds, column, PERCENT_FORMAT)
    for index, row in enumerate(report.kinds, start=2):
        for column, metric in (
            (4, KpiTarget.Metric.FOLLOW_UP_RATE),
            (6, KpiTarget.Metric.TIMELINESS),
        ):
            target = row["targets"].get(metric)
            if target and target["missed"]:
                kinds.cell(row=index, column=column).font = _MISSED_FONT

    workbook.properties.title = title(report)
    workbook.properties.creator = clinic
    out = io.BytesIO()
    workbook_text_only(workbook)
    workbook.save(out)
    return out.getvalue()


# --- PDF ------------------------------------------------------------------------------------


@cache
def cjk_font() -> str:
    """The font for Chinese: the first TrueType file of settings.PDF_CJK_FONTS that exists,
    embedded (a subset of the glyphs used), so the PDF reads the same on any machine. Without
    one, Adobe's CID font STSong-Light, which the PDF only names and the reader's own Chinese
    typeface draws (Acrobat, WPS, browsers on a Chinese desktop; boxes where there is none).
    Text that WinAnsi encodes stays in Helvetica either way. Registered at the first PDF, not
    at import: reading the font file costs ~0.2 s that no other page should pay."""
    for path in settings.PDF_CJK_FONTS:
        if Path(path).exists():
            pdfmetrics.registerFont(TTFont("CareBridgeCJK", path, subfontIndex=0))
            return "CareBridgeCJK"
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def _latin(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _markup(text: str, *, bold: bool) -> str:
    """The text as Paragraph markup, each run in the font that has its glyphs: Helvetica for
    what WinAnsi encodes (letters, digits, "·", "–", "—"), the CID font for the rest (Chinese,
    full-width punctuation, "≥"), so neither font is asked for a glyph it lacks."""
    latin = "Helvetica-Bold" if bold else "Helvetica"
    runs = groupby(text, key=_latin)
    return "".join(
        f'<font name="{latin if is_latin else cjk_font()}">{escape("".join(chars))}</font>'
        for is_latin, chars in runs
    )


def _para(text, *, size: float = 9, bold: bool = False, right: bool = False, color=None):
    text = str(text)
    style = ParagraphStyle(
        "cell",
        fontName="Helvetica",
        fontSize=size,
        leading=size * 1.3,
        alignment=TA_RIGHT if right else 0,
        textColor=color or colors.black,
        # Chinese has no spaces to break at: wrap between any two characters.
        wordWrap=None if all(map(_latin, text)) else "CJK",
    )
    return Paragraph(_markup(text, bold=bold), style)


def _percent(value: Decimal | None) -> str:
    return DASH if value is None else f"{value} %"


def _points(value: Decimal | None) -> str:
    return DASH if value is None else str(value)


def _table(header: list[str], rows: list[list], widths: list[float], *, missed_rows=()) -> Table:
    numeric = range(1, len(header))
    body = [[_para(text, bold=True, right=i in numeric) for i, text in enumerate(header)]]
    for r, row in enumerate(rows, start=1):
        red = colors.HexColor("#C00000") if r in missed_rows else None
        body.append(
            [
                _para("" if cell is None else cell, right=i in numeric, color=red, bold=bool(red))
                for i, cell in enumerate(row)
            ]
        )
    table = Table(body, colWidths=[w * mm for w in widths], repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DCE6F1")),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#1F4E79")),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#BBBBBB")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _heading(text: str):
    return _para(text, size=12, bold=True, color=colors.HexColor("#1F4E79"))


def review_section(review) -> list:
    """The month's loop (issue 19 §4, crm.selectors_review.MonthReview): each department's
    sign-offs, leadership's comments, the corrective actions of this month and of the month
    before, and the departments below target without one."""

    def table(header: list[str], rows: list[list], widths: list[float]) -> Table:
        body = [[_para(text, bold=True) for text in header]]
        body += [[_para(cell) for cell in row] for row in rows]
        table = Table(body, colWidths=[w * mm for w in widths], repeatRows=1, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DCE6F1")),
                    ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#BBBBBB")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return table

    def signature(row, role) -> str:
        for sign_off in row.sign_offs:
            if sign_off.role == role:
                who = sign_off.signed_by.get_full_name() or sign_off.signed_by.email
                return f"{who} · {formats.date_format(sign_off.signed_at, 'Y-m-d')}"
        return _("not signed")

    def action_rows(actions) -> list[list]:
        return [
            [
                action.department.name,
                f"{action.get_metric_display()} {action.value} % < {action.target} %",
                action.cause,
                action.measures,
                f"{action.owner} · {action.due_on:%Y-%m-%d}",
                action.get_status_display() + (f": {action.result}" if action.result else ""),
            ]
            for action in actions
        ]

    action_header = [
        _("Department"),
        _("Figure"),
        _("Cause"),
        _("Measures"),
        _("Owner · due"),
        _("Status"),
    ]
    action_widths = [26, 30, 32, 36, 24, 26]
    heads = [
        row for row in review.departments if row.sign_offs or row.figures["eligible"] or row.missed
    ]
    story = [
        _heading(_("Monthly review")),
        Spacer(1, 2 * mm),
        table(
            [_("Department"), _("Department head"), _("Head nurse"), ""],
            [
                [
                    row.department.name,
                    signature(row, "head"),
                    signature(row, "head_nurse"),
                    _("changed since signed") if row.changed else "",
                ]
                for row in heads
            ]
            or [[_("No department to sign this month."), "", "", ""]],
            [44, 50, 50, 30],
        ),
        Spacer(1, 3 * mm),
        _para(_("Leadership comments"), bold=True),
    ]
    story += [
        _para(
            f"{comment.author.get_full_name() or comment.author.email} · "
            f"{formats.date_format(comment.created_at, 'Y-m-d')}: {comment.body}"
        )
        for comment in review.comments
    ] or [_para(_("No comment yet."))]
    for heading, actions in (
        (_("Corrective actions of this month"), review.actions),
        (_("Corrective actions of the previous month"), review.previous_actions),
    ):
        story += [
            Spacer(1, 3 * mm),
            _para(heading, bold=True),
            table(action_header, action_rows(actions), action_widths)
            if actions
            else _para(_("None.")),
        ]
    acted = {action.department_id for action in review.actions}
    waiting = [row.department.name for row in review.below if row.department.pk not in acted]
    if waiting:
        story += [
            Spacer(1, 3 * mm),
            _para(
                _("Below target without a corrective action: %(departments)s")
                % {"departments": ", ".join(waiting)},
                color=colors.HexColor("#C00000"),
            ),
        ]
    return [*story, Spacer(1, 5 * mm)]


def report_pdf(report: Report, *, clinic: str, printed: date, review=None) -> bytes:
    """The monthly follow-up summary on A4: headline figures against their targets,
    departments lowest follow-up rate first, why the rest were not followed up, satisfaction
    per dimension, complaints, the month's review (sign-offs, comments, corrective actions)
    and the definitions."""
    below = _("below target")
    headline = []
    missed = []
    for line in headline_lines(report):
        target = report.targets.get(line.metric) if line.metric else None
        if target and target["missed"]:
            missed.append(len(headline) + 1)
        shown = _points(line.rate) if line.points else _percent(line.rate)
        target_text = ""
        if target:
            value = formats.number_format(target["target"], decimal_pos=2)
            target_text = f"≥ {value}" + ("" if line.points else " %")
            target_text += f" ({below})" if target["missed"] else ""
        headline.append(
            [
                line.label,
                "" if line.count is None else str(line.count),
                "" if line.of is None or not line.has_rate else str(line.of),
                shown if line.has_rate else "",
                target_text,
            ]
        )

    story = [
        _para(title(report), size=16, bold=True),
        Spacer(1, 2 * mm),
        _para(
            f"{clinic} · {report.period.start:%Y-%m-%d} – {report.period.end:%Y-%m-%d} · "
            + _("Printed %(date)s") % {"date": printed.strftime("%Y-%m-%d")},
            size=9,
            color=colors.HexColor("#555555"),
        ),
        Spacer(1, 5 * mm),
        _heading(_("Follow-up")),
        Spacer(1, 2 * mm),
        _table(
            ["", _("Count"), _("Out of"), _("Rate"), _("Target")],
            headline,
            [68, 18, 18, 24, 42],
            missed_rows=missed,
        ),
        Spacer(1, 5 * mm),
    ]
    departments = [
        [
            row["name"],
            row["figures"].eligible,
            row["figures"].followed_up,
            _percent(row["figures"].follow_up_rate),
            _percent(row["figures"].loss_rate),
        ]
        for row in report.departments
    ] or [[_("No eligible encounters in this month."), "", "", "", ""]]
    story += [
        _heading(_("Departments") + " · " + _("lowest follow-up rate first")),
        Spacer(1, 2 * mm),
        _table(
            [
                _("Department"),
                _("Eligible"),
                _("Followed up"),
                _("Follow-up rate"),
                _("Loss rate"),
            ],
            departments,
            [62, 24, 26, 29, 29],
        ),
        Spacer(1, 5 * mm),
    ]
    if report.kinds:
        kind_rows, kind_missed = [], []
        for row in report.kinds:
            target = row["targets"].get(KpiTarget.Metric.FOLLOW_UP_RATE)
            target_text = ""
            if target:
                target_text = f"≥ {formats.number_format(target['target'], decimal_pos=2)} %"
                if target["missed"]:
                    target_text += f" ({below})"
                    kind_missed.append(len(kind_rows) + 1)
            kind_rows.append(
                [
                    row["label"],
                    row["figures"].eligible,
                    row["figures"].followed_up,
                    _percent(row["figures"].follow_up_rate),
                    target_text,
                ]
            )
        story += [
            KeepTogether(
                [
                    _heading(_("By kind of patient")),
                    Spacer(1, 2 * mm),
                    _table(
                        [
                            _("Kind of patient"),
                            _("Eligible"),
                            _("Followed up"),
                            _("Follow-up rate"),
                            _("Target"),
                        ],
                        kind_rows,
                        [50, 22, 24, 26, 48],
                        missed_rows=kind_missed,
                    ),
                ]
            ),
            Spacer(1, 5 * mm),
        ]
    if report.unreachable:
        story += [
            KeepTogether(
                [
                    _heading(_("Not followed up")),
                    Spacer(1, 2 * mm),
                    _table(
                        [_("Not followed up, by the last attempt"), _("Count")],
                        [[str(label), count] for _key, label, count in report.unreachable],
                        [62, 24],
                    ),
                ]
            ),
            Spacer(1, 5 * mm),
        ]
    if report.complaints.received:
        by_category = _table(
            [_("Category"), _("Complaints")], complaint_categories(report), [52, 24]
        )
        by_department = _table(
            [_("Department"), _("Complaints")], complaint_departments(report), [52, 24]
        )
        story += [
            KeepTogether(
                [
                    _heading(_("Complaints")),
                    Spacer(1, 2 * mm),
                    Table(
                        [[by_category, by_department]],
                        colWidths=[86 * mm, 86 * mm],
                        hAlign="LEFT",
                        style=[
                            ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("LEFTPADDING", (0, 0), (-1, -1), 0),
                        ],
                    ),
                ]
            ),
            Spacer(1, 5 * mm),
        ]
    if report.satisfaction.dimensions:
        story += [
            KeepTogether(
                [
                    _heading(_("Satisfaction")),
                    Spacer(1, 2 * mm),
                    _table(
                        [
                            _("Dimension"),
                            _("Answers"),
                            _("Satisfied"),
                            _("Satisfaction rate"),
                            _("Score (0–100)"),
                        ],
                        [
                            [
                                label,
                                item["answers"],
                                item["top_two"],
                                _percent(item["rate"]),
                                _points(item["score"]),
                            ]
                            for label, item in dimension_rows(report)
                        ],
                        [52, 24, 24, 35, 35],
                    ),
                ]
            ),
            Spacer(1, 5 * mm),
        ]
    if review is not None:
        story += review_section(review)
    story.append(_para(definitions(), size=7.5, color=colors.HexColor("#444444")))
    story.append(_para(denominator_note(), size=7.5, color=colors.HexColor("#444444")))

    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=title(report),
        author=clinic,
    )

    def page_number(canvas, doc):
        canvas.saveState()
        text = _("Page %(number)s") % {"number": doc.page}
        canvas.setFont("Helvetica" if all(map(_latin, text)) else cjk_font(), 8)
        canvas.drawRightString(A4[0] - 18 * mm, 9 * mm, text)
        canvas.restoreState()

    document.build(story, onFirstPage=page_number, onLaterPages=page_number)
    return out.getvalue()
