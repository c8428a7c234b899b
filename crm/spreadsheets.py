"""Cells we write to CSV and XLSX files are data, never formulas. A name typed as
``=HYPERLINK("http://…","call")`` or ``+cmd|' /C calc'!A0`` in a register or a survey answer
would otherwise run when a clinic opens the export in Excel or WPS (CSV injection, OWASP)."""

import csv

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_safe(value):
    """Text that a spreadsheet would read as a formula, quoted with a leading apostrophe (the
    form spreadsheets show as the text itself); anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeCsvWriter:
    """``csv.writer`` whose every cell passes ``cell_safe``."""

    def __init__(self, out, **options):
        self._writer = csv.writer(out, **options)

    def writerow(self, row):
        return self._writer.writerow([cell_safe(value) for value in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def workbook_text_only(workbook) -> None:
    """Every cell openpyxl took for a formula (a string starting with "=") stored as the text
    it is: the report workbooks hold values, never formulas."""
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
