"""Reporting of the crm app (DESIGN.md §7): the follow-up KPIs of a period and scope, the report
and dashboard assembled from them, the lists behind each figure, the targets they are held to,
and the files a report downloads as. Reads of the tenant's data, below the views, the API and
the services; the only writes are the KPI targets and the audit row of each download.

    period.py     Period, Scope, rate: what every figure is about and how a rate is computed
    summary.py    crm_encounterkpi kept exact: the one source of the KPI facts SQL
    figures/      the figures by family: follow-up, satisfaction, feedback, spot checks
    targets.py    KPI targets: set, read, and the one that holds for a figure
    report.py     the report of a period: the figures with their targets, per group
    dashboard.py  the month's report with twelve months of trends
    drills.py     the encounters, responses or complaints behind a figure
    exports/      the report as XLSX and PDF, a drill as CSV, each download audit-logged"""
