"""The files a report downloads as (DESIGN.md §9: every export is audit-logged, each writing
its own audit row): the monthly report as XLSX and PDF, laid out alike (layout.py), and the
list behind a figure as CSV."""
