"""Cells written to CSV and XLSX are data, never formulas (issue 18, medium 5)."""

import io

import pytest
from openpyxl import Workbook, load_workbook

from crm.spreadsheets import SafeCsvWriter, cell_safe, workbook_text_only


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("张三", "张三"),
        ("", ""),
        (-5, -5),
        (None, None),
    ],
)
def test_text_that_starts_like_a_formula_is_quoted(value, written):
    assert cell_safe(value) == written


def test_the_csv_writer_quotes_every_cell():
    out = io.StringIO()
    SafeCsvWriter(out).writerows([["=1+1", "ok", 3]])
    assert out.getvalue() == "'=1+1,ok,3\r\n"


def test_a_workbook_keeps_formula_like_text_as_text():
    book = Workbook()
    book.active.append(["=1+1", "plain"])
    workbook_text_only(book)
    out = io.BytesIO()
    book.save(out)

    cell = load_workbook(out).active["A1"]
    assert (cell.value, cell.data_type) == ("=1+1", "s")
