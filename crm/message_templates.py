"""What messages say: the variables a message template may use, and the texts every clinic
starts with (seeded at provisioning in both languages, editable on the Messages page)."""

from datetime import date, datetime
from decimal import Decimal

from django.template import Context, Engine, TemplateSyntaxError
from django.utils.translation import gettext_lazy as _

from .models.messages import Channel, Purpose

# name → what it holds; shown next to the template editor.
MESSAGE_VARIABLES = {
    "contact_name": _("the contact's name"),
    "clinic_name": _("the clinic's name"),
    "survey_link": _("the link to the survey"),
    # Chinese SMS providers limit a variable to a few dozen characters, and Tencent Cloud
    # allows no address in one: their approved template holds the address, the code fills it.
    "survey_code": _(
        "the short code at the end of the survey's SMS link (for a provider's template that "
        "holds the address itself)"
    ),
    "opt_out_link": _("the link to stop receiving messages"),
    "education_links": _("links to health-education articles, one per line"),
    "return_visit_date": _("the date of the next follow-up or return visit"),
    "follow_up_name": _("the follow-up, e.g. Day 3"),
    "complaint_url": _("(staff alerts) the complaint's page"),
    "caller_number": _("(notice before a call) the number the clinic calls from"),
    "encounter_date": _("(notice before a call) the date of the discharge or visit"),
}

_ENGINE = Engine(autoescape=False)  # SMS and plain-text email: nothing is HTML

DEFAULTS: dict[tuple[str, str, str], tuple[str, str]] = {
    (Purpose.SURVEY, Channel.SMS, "zh-hans"): (
        "",
        "【{{ clinic_name }}】{{ contact_name }}您好，感谢您的信任。请花一分钟评价本次服务："
        "{{ survey_link }} 退订回TD",
    ),
    (Purpose.SURVEY, Channel.SMS, "en"): (
        "",
        "{{ clinic_name }}: Dear {{ contact_name }}, thank you for choosing us. Please tell us "
        "how we did (1 minute): {{ survey_link }} Reply STOP to opt out.",
    ),
    (Purpose.SURVEY, Channel.EMAIL, "zh-hans"): (
        "{{ clinic_name }} 服务满意度调查",
        "{{ contact_name }}您好：\n\n感谢您选择{{ clinic_name }}。"
        "请花一分钟告诉我们本次服务的感受：\n{{ survey_link }}\n\n"
        "{% if education_links %}为您推荐的健康宣教：\n{{ education_links }}\n\n{% endif %}"
        "如不希望再收到我们的消息，请点击：{{ opt_out_link }}",
    ),
    (Purpose.SURVEY, Channel.EMAIL, "en"): (
        "{{ clinic_name }}: how did we do?",
        "Dear {{ contact_name }},\n\nThank you for choosing {{ clinic_name }}. Please take a "
        "minute to tell us how we did:\n{{ survey_link }}\n\n{% if education_links %}Reading "
        "for your recovery:\n{{ education_links }}\n\n{% endif %}To stop receiving our "
        "messages: {{ opt_out_link }}",
    ),
    (Purpose.SURVEY_REMINDER, Channel.SMS, "zh-hans"): (
        "",
        "【{{ clinic_name }}】{{ contact_name }}您好，前几天我们请您评价本次服务，"
        "您的意见对我们很重要：{{ survey_link }} 退订回TD",
    ),
    (Purpose.SURVEY_REMINDER, Channel.SMS, "en"): (
        "",
        "{{ clinic_name }}: Dear {{ contact_name }}, a reminder: your opinion of our service "
        "matters to us (1 minute): {{ survey_link }} Reply STOP to opt out.",
    ),
    (Purpose.SURVEY_REMINDER, Channel.EMAIL, "zh-hans"): (
        "{{ clinic_name }} 服务满意度调查（提醒）",
        "{{ contact_name }}您好：\n\n前几天我们请您评价在{{ clinic_name }}的服务，"
        "您的意见对我们很重要，只需一分钟：\n{{ survey_link }}\n\n"
        "如不希望再收到我们的消息，请点击：{{ opt_out_link }}",
    ),
    (Purpose.SURVEY_REMINDER, Channel.EMAIL, "en"): (
        "{{ clinic_name }}: a reminder, how did we do?",
        "Dear {{ contact_name }},\n\nA few days ago we asked how {{ clinic_name }} did. Your "
        "opinion matters to us and takes a minute:\n{{ survey_link }}\n\nTo stop receiving "
        "our messages: {{ opt_out_link }}",
    ),
    (Purpose.SURVEY_SMS, Channel.SMS, "zh-hans"): (
        "",
        "【{{ clinic_name }}】{{ contact_name }}您好，请为本次服务打分：回复1-5（5为非常满意）。"
        "退订回TD",
    ),
    (Purpose.SURVEY_SMS, Channel.SMS, "en"): (
        "",
        "{{ clinic_name }}: Dear {{ contact_name }}, how satisfied were you? Reply with a "
        "number from 1 to 5 (5 = very satisfied). Reply STOP to opt out.",
    ),
    (Purpose.FOLLOW_UP, Channel.SMS, "zh-hans"): (
        "",
        "【{{ clinic_name }}】{{ contact_name }}您好，这是您的{{ follow_up_name }}回访提醒。"
        "{% if education_links %}健康宣教：{{ education_links }}{% endif %}"
        "如有不适请及时就医。退订回TD",
    ),
    (Purpose.FOLLOW_UP, Channel.SMS, "en"): (
        "",
        "{{ clinic_name }}: Dear {{ contact_name }}, this is your {{ follow_up_name }} "
        "follow-up. {% if education_links %}Reading: {{ education_links }} {% endif %}"
        "If you feel unwell, please see a doctor. Reply STOP to opt out.",
    ),
    (Purpose.FOLLOW_UP, Channel.EMAIL, "zh-hans"): (
        "{{ clinic_name }} {{ follow_up_name }}回访",
        "{{ contact_name }}您好：\n\n这是{{ clinic_name }}的{{ follow_up_name }}回访。"
        "如有任何不适，请及时联系我们或就医。\n\n"
        "{% if education_links %}为您推荐的健康宣教：\n{{ education_links }}\n\n{% endif %}"
        "{% if opt_out_link %}如不希望再收到我们的消息，请点击：{{ opt_out_link }}{% endif %}",
    ),
    (Purpose.FOLLOW_UP, Channel.EMAIL, "en"): (
        "{{ clinic_name }}: your {{ follow_up_name }} follow-up",
        "Dear {{ contact_name }},\n\nThis is your {{ follow_up_name }} follow-up from "
        "{{ clinic_name }}. If anything worries you, contact us or see a doctor.\n\n"
        "{% if education_links %}Reading for your recovery:\n{{ education_links }}\n\n"
        "{% endif %}{% if opt_out_link %}To stop receiving our messages: {{ opt_out_link }}"
        "{% endif %}",
    ),
    # Names the number and the visit, never a diagnosis: the SMS is the credential that lets
    # the patient tell our call from a scam (DESIGN.md §7a.3).
    (Purpose.PRE_NOTICE, Channel.SMS, "zh-hans"): (
        "",
        "【{{ clinic_name }}】{{ contact_name }}您好，{{ clinic_name }}随访中心将用"
        "{{ caller_number }}给您来电，回访您{{ encounter_date }}出院（就诊）后的恢复情况，"
        "请放心接听。退订回TD",
    ),
    (Purpose.PRE_NOTICE, Channel.SMS, "en"): (
        "",
        "{{ clinic_name }}: Dear {{ contact_name }}, the follow-up centre of {{ clinic_name }} "
        "will call you from {{ caller_number }} about your discharge (visit) on "
        "{{ encounter_date }}. Reply STOP to opt out.",
    ),
    (Purpose.COMPLAINT_OVERDUE, Channel.EMAIL, "zh-hans"): (
        "投诉 #{{ complaint.pk }} 已超过答复期限",
        "投诉 #{{ complaint.pk }}（{{ complaint.get_category_display }}）应于"
        "{{ complaint.deadline|date:'Y-m-d H:i' }}前答复，目前仍未答复。\n\n{{ complaint_url }}",
    ),
    (Purpose.COMPLAINT_OVERDUE, Channel.EMAIL, "en"): (
        "Complaint #{{ complaint.pk }} is overdue",
        "Complaint #{{ complaint.pk }} ({{ complaint.get_category_display }}) was due for a "
        "reply by {{ complaint.deadline|date:'Y-m-d H:i' }} and has not been answered.\n\n"
        "{{ complaint_url }}",
    ),
}


def template_check(text: str) -> str | None:
    """The syntax error of a message template, or None."""
    try:
        _ENGINE.from_string(text)
    except TemplateSyntaxError as exc:
        return str(exc)
    return None


# What a template may be given: plain values (and mappings of them), never model instances,
# whose relations a template could walk (``{{ complaint.contact.phones.first.number }}``).
_PLAIN = (str, int, float, Decimal, date, datetime, type(None))


def render_text(text: str, variables: dict) -> str:
    """A message template filled in with ``variables``, plain values only (TypeError else)."""
    for name, value in variables.items():
        values = value.values() if isinstance(value, dict) else [value]
        if not all(isinstance(item, _PLAIN) for item in values):
            raise TypeError(f"message variable {name!r} is not a plain value")
    return _ENGINE.from_string(text).render(Context(variables)).strip()
