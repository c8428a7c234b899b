"""The follow-up domain, in each tenant's schema (DESIGN.md §4)."""

from .audit import AuditEntry
from .encounters import Contact, ContactPhone, Encounter, EncounterKind, EncounterPlanPending
from .exports import ClinicExport
from .feedback import Complaint, ComplaintEvent, FeedbackSource, Praise
from .followup_tasks import CallAttempt, FollowUpTask, OutcomeCategory, OutcomeCode
from .imports import ImportJob, ImportMapping
from .integrations import ApiKey, WebhookDelivery, WebhookEndpoint
from .keys import DataKey
from .kpi import EncounterKpi, EncounterKpiStale
from .messages import InboundMessage, Message, MessageTemplate, SmsAccount, SmsReceipt
from .onboarding import Onboarding
from .people import Department, StaffProfile
from .review import CorrectiveAction, RegisterSignOff, ReportComment
from .rules import FollowUpRule, RuleStep
from .targets import KpiTarget
from .wechat import WeChatAccount, WeChatEvent, WeChatLink, WeChatLinkToken, WeChatTemplate

__all__ = [
    "ApiKey",
    "AuditEntry",
    "CallAttempt",
    "ClinicExport",
    "Complaint",
    "ComplaintEvent",
    "Contact",
    "CorrectiveAction",
    "ContactPhone",
    "DataKey",
    "Department",
    "Encounter",
    "EncounterKind",
    "EncounterPlanPending",
    "EncounterKpi",
    "EncounterKpiStale",
    "FeedbackSource",
    "FollowUpRule",
    "FollowUpTask",
    "ImportJob",
    "ImportMapping",
    "InboundMessage",
    "KpiTarget",
    "Message",
    "MessageTemplate",
    "SmsAccount",
    "SmsReceipt",
    "Onboarding",
    "OutcomeCategory",
    "OutcomeCode",
    "Praise",
    "RegisterSignOff",
    "ReportComment",
    "RuleStep",
    "StaffProfile",
    "WeChatAccount",
    "WeChatEvent",
    "WeChatLink",
    "WeChatLinkToken",
    "WeChatTemplate",
    "WebhookDelivery",
    "WebhookEndpoint",
]
