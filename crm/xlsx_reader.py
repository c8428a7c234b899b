"""The first sheet of an XLSX workbook as UTF-8 CSV, read in a process of its own:
``python -m crm.xlsx_reader MEMORY_BYTES MAX_ROWS MAX_COLUMNS MAX_CELLS < book.xlsx``.

It limits its own address space first, because a workbook is a ZIP of XML that can declare
or unpack to far more than it weighs: a 5 KB sheet declaring ``A1:XFD10000`` padded every row
to 16,384 cells (1.3 GB), a shared-strings table can unpack to gigabytes. The rows are
streamed, only as wide as the headings, and counted as they come. Imports no Django: it
starts in a fraction of a second.

Exit status 0: the CSV is on stdout. Otherwise one of the codes below on stderr."""

import csv
import io
import resource
import sys
from datetime import date, datetime

import openpyxl

NOT_A_WORKBOOK = "not-a-workbook"
TOO_MANY_ROWS = "too-many-rows"
TOO_MANY_COLUMNS = "too-many-columns"
TOO_MANY_CELLS = "too-many-cells"
OUT_OF_MEMORY = "out-of-memory"


class Refused(Exception):
    """The workbook is refused; the argument is one of the codes above."""


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def sheet_to_csv(content: bytes, out, *, max_rows: int, max_columns: int, max_cells: int):
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise Refused(NOT_A_WORKBOOK) from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        headings = [cell_text(value) for value in next(rows, ())]
        while headings and not headings[-1].strip():
            headings.pop()
        width = len(headings)
        if width > max_columns:
            raise Refused(TOO_MANY_COLUMNS)
        writer = csv.writer(out)
        writer.writerow(headings)
        if not width:
            return
        written, blank_run = 0, 0
        # Rows as wide as the headings, whatever width the sheet declares; blank rows are
        # kept (row numbers stay those Excel shows) but only when a filled row follows.
        for values in sheet.iter_rows(min_row=2, max_col=width, values_only=True):
            cells = [cell_text(value) for value in values]
            if not any(cell.strip() for cell in cells):
                blank_run += 1
                continue
            written += blank_run + 1
            if written > max_rows:
                raise Refused(TOO_MANY_ROWS)
            if written * width > max_cells:
                raise Refused(TOO_MANY_CELLS)
            for _ in range(blank_run):
                writer.writerow([""] * width)
            blank_run = 0
            writer.writerow(cells)
    finally:
        workbook.close()


def main(argv: list[str]) -> int:
    memory, max_rows, max_columns, max_cells = (int(arg) for arg in argv[1:5])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    try:
        sheet_to_csv(
            sys.stdin.buffer.read(),
            out,
            max_rows=max_rows,
            max_columns=max_columns,
            max_cells=max_cells,
        )
    except Refused as refused:
        sys.stderr.write(str(refused))
        return 2
    except MemoryError:
        sys.stderr.write(OUT_OF_MEMORY)
        return 3
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
