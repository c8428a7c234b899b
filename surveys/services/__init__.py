"""Writes of the surveys app, one module per part: ``templates`` (drafts and published
versions), ``invitations`` (what a sent link records), ``responses`` (answers, what they
raise, the opt-out). Making and finding links is surveys.links."""
