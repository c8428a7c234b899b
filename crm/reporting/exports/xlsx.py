"""The monthly follow-up report as an XLSX workbook, for the hospital's leadership: the
summary sheet of the headline figures against their targets, then a sheet per breakdown."""

import io
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ...models import KpiTarget
from ...spreadsheets import workbook_text_only
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

PERCENT_FORMAT = "0.00 %"
POINTS_FORMAT = "0.00"


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


def report_xlsx(report: Report, *, clinic: str, user) -> bytes:
    """The workbook: a summary sheet of the headline figures with their targets, then
    departments, the unreachable breakdown, satisfaction per dimension and complaints. The
    download is audit-logged as `user`'s."""
    words = clinic_vocabulary()
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
        str(words.by_kind),
        [
            str(words.kind),
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
    report_exported(user, fmt="xlsx", first=report.period.start)
    return out.getvalue()
