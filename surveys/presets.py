"""Survey templates every new clinic starts with, per kind (DESIGN.md §5.4, §6), in Chinese
and English, published and attached to the preset rules' first follow-ups."""

from django.db import connection

from crm.models import RuleStep
from tenants.models import Tenant

from .models import SurveyQuestion, SurveyTemplate
from .services.templates import template_publish


def _q(kind, zh, en, dimension="", required=True, choices=(), raises_complaint=False):
    return {
        "kind": kind,
        "text_zh": zh,
        "text_en": en,
        "dimension": dimension,
        "required": required,
        "choices": [list(c) for c in choices],
        "raises_complaint": raises_complaint,
    }


def _rating(zh, en, dimension):
    return _q("rating", zh, en, dimension)


NPS = _q(
    "nps",
    "您有多大可能向亲友推荐我们？",
    "How likely are you to recommend us to family or friends?",
)
PRAISE = _q(
    "staff",
    "有没有想表扬的医护人员？",
    "Is there anyone on our staff you would like to praise?",
    required=False,
)
COMPLAINT = _q(
    "text",
    "有没有不满意、需要我们处理的问题？（如有请写明）",
    "Is there anything you were unhappy with that we should look into?",
    required=False,
    raises_complaint=True,
)
SUGGESTION = _q("text", "其他意见或建议", "Any other comments or suggestions", required=False)

SURVEYS: dict[str, list[dict]] = {
    "hospital": [
        {
            "name": ("住院患者满意度调查", "Inpatient satisfaction survey"),
            "questions": [
                _rating(
                    "您对本次住院的总体满意度",
                    "Overall, how satisfied were you with your stay?",
                    "overall",
                ),
                _rating("对医生的服务", "Your doctors", "doctor"),
                _rating("对护士的服务", "Your nurses", "nurse"),
                _rating("病房环境与卫生", "Ward environment and cleanliness", "environment"),
                _rating("收费是否清楚合理", "Clarity and fairness of the fees", "fees"),
                _rating(
                    "入院、出院手续办理", "Admission and discharge paperwork", "administration"
                ),
                NPS,
                PRAISE,
                COMPLAINT,
                SUGGESTION,
            ],
            # (rule position, step) in crm.presets "hospital": surgery's week-1 call and the
            # three discharge calls (the nurse's, the attending doctor's, the centre's).
            "attach": [(0, 1), (2, 0), (3, 0), (4, 0)],
        },
    ],
    "aesthetic": [
        {
            "name": ("术后满意度回访", "Post-procedure satisfaction"),
            "questions": [
                _rating("您对本次项目的总体满意度", "Overall, how satisfied are you?", "overall"),
                _rating("对效果的满意度", "The result so far", "result"),
                _rating("医生的专业与沟通", "Your doctor's care and explanations", "doctor"),
                _rating("咨询与护理服务", "Consultation and aftercare service", "service"),
                _q(
                    "single",
                    "目前恢复情况",
                    "How is your recovery going?",
                    choices=[
                        ("恢复良好", "Well"),
                        ("有轻微不适", "Some discomfort"),
                        ("明显不适，需要复诊", "Unwell, I need a check-up"),
                    ],
                ),
                NPS,
                PRAISE,
                COMPLAINT,
            ],
            "attach": [(0, 1), (1, 0)],
        },
    ],
    "dental": [
        {
            "name": ("口腔就诊满意度", "Dental visit satisfaction"),
            "questions": [
                _rating(
                    "您对本次就诊的总体满意度",
                    "Overall, how satisfied were you with your visit?",
                    "overall",
                ),
                _rating("医生的治疗与讲解", "Your dentist's treatment and explanations", "doctor"),
                _rating("诊室环境与消毒", "Clinic environment and hygiene", "environment"),
                _rating("费用是否清楚", "Clarity of the fees", "fees"),
                _q("yes_no", "治疗后是否仍有疼痛或不适？", "Do you still have pain or discomfort?"),
                NPS,
                PRAISE,
                COMPLAINT,
            ],
            "attach": [(0, 0)],
        },
    ],
    "service": [
        {
            "name": ("服务满意度回访", "Service satisfaction"),
            "questions": [
                _rating(
                    "您对本次服务的总体满意度",
                    "Overall, how satisfied were you with our service?",
                    "overall",
                ),
                _rating("顾问 / 技师的服务", "Your advisor or technician", "service"),
                _rating("费用是否清楚合理", "Clarity and fairness of the price", "fees"),
                NPS,
                PRAISE,
                COMPLAINT,
            ],
            "attach": [(0, 0), (1, 0)],
        },
    ],
}

# Every kind: the one-question SMS (a digit reply is the answer).
SMS_RATING = {
    "name": ("短信满意度（回复数字）", "SMS satisfaction (reply with a digit)"),
    "questions": [_rating("请为本次服务打分", "How satisfied were you?", "overall")],
    "attach": [],
}


def surveys_seed(*, kind: str, locale: str) -> None:
    """Preset step: the kind's surveys, published, attached to the preset rules' steps."""

    if SurveyTemplate.objects.exists():
        return
    use_chinese = locale.startswith("zh")
    steps: dict[int, list[RuleStep]] = {}
    ordered = RuleStep.objects.select_related("rule").order_by("rule__position", "position", "id")
    for step in ordered:
        steps.setdefault(step.rule.position, []).append(step)
    for preset in [*SURVEYS.get(kind, []), SMS_RATING]:
        template = SurveyTemplate.objects.create(name=preset["name"][0 if use_chinese else 1])
        SurveyQuestion.objects.bulk_create(
            SurveyQuestion(template=template, position=i, key=f"q{i}", **question)
            for i, question in enumerate(preset["questions"], start=1)
        )
        template_publish(template)
        for rule_index, step_index in preset["attach"]:
            rule_steps = steps.get(rule_index, [])
            if step_index < len(rule_steps):
                RuleStep.objects.filter(pk=rule_steps[step_index].pk).update(survey=template)


def feedback_settings_seed(*, kind: str, locale: str) -> None:
    """Preset step: hospitals reply to complaints within 5 working days (DESIGN.md §5.4's 7
    days; the 5 working days of China's rules on complaints in medical institutions), others
    within 2 (their 3 days)."""

    days = 5 if kind == "hospital" else 2
    Tenant.objects.filter(pk=connection.tenant.pk).update(complaint_reply_days=days)
    connection.tenant.complaint_reply_days = days
