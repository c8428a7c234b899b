"""The follow-up domain, in each tenant's schema (DESIGN.md §4)."""

from .audit import AuditEntry
from .encounters import Contact, ContactPhone, Encounter
from .imports import ImportJob, ImportMapping
from .people import Department, StaffProfile
from .rules import FollowUpRule, RuleStep
from .tasks import CallAttempt, FollowUpTask, OutcomeCategory, OutcomeCode

__all__ = [
    "AuditEntry",
    "CallAttempt",
    "Contact",
    "ContactPhone",
    "Department",
    "Encounter",
    "FollowUpRule",
    "FollowUpTask",
    "ImportJob",
    "ImportMapping",
    "OutcomeCategory",
    "OutcomeCode",
    "RuleStep",
    "StaffProfile",
]
