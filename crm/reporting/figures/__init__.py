"""The KPIs of DESIGN.md §7 by family, each computed from counts for a period and scope:
follow-up (eligible, reached, lost, timeliness, pre-notices), satisfaction (rates, NPS,
dimensions), feedback (complaints and praise) and spot checks (agreement, per-agent
discrepancies)."""
