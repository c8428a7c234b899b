"""The monthly follow-up report as a printable A4 PDF, for the hospital's leadership: the
headline figures against their targets, then a table per breakdown, in Helvetica and a
Chinese font (cjk_font)."""

import io
from datetime import date
from decimal import Decimal
from functools import cache
from itertools import groupby
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ...models import KpiTarget
from ...vocabulary import clinic_vocabulary
from ..report import Report
from .layout import (
    DASH,
    complaint_categories,
    complaint_departments,
    definitions,
    denominator_note,
    dimension_rows,
    headline_lines,
    report_exported,
    title,
)


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


def report_pdf(report: Report, *, clinic: str, printed: date, user, review=None) -> bytes:
    """The monthly follow-up summary on A4: headline figures against their targets,
    departments lowest follow-up rate first, why the rest were not followed up, satisfaction
    per dimension, complaints, the month's review (sign-offs, comments, corrective actions)
    and the definitions. The download is audit-logged as `user`'s."""
    words = clinic_vocabulary()
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
                    _heading(str(words.by_kind)),
                    Spacer(1, 2 * mm),
                    _table(
                        [
                            str(words.kind),
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
    report_exported(user, fmt="pdf", first=report.period.start)
    return out.getvalue()
