"""A sample register for the import page, shaped like what each kind of clinic exports:
dates relative to today (so its follow-ups are due now), the tenant's own departments,
headings in the tenant's language, and one deliberately wrong phone number so the preview
shows how a bad row is reported."""

import csv
import io
import random
from datetime import date, timedelta

from .models import Department

_HEADINGS = {
    "zh": [
        "序号",
        "科室",
        "姓名",
        "性别",
        "年龄",
        "住院号",
        "诊断",
        "手术名称",
        "出院时间",
        "电话",
        "主治医生",
        "转归",
        "类型",
        "标签",
    ],
    "en": [
        "No.",
        "Department",
        "Name",
        "Sex",
        "Age",
        "Record no",
        "Diagnosis",
        "Procedure",
        "Date",
        "Phone",
        "Attending",
        "Outcome",
        "Kind",
        "Tags",
    ],
}
_NAMES = {
    "zh": [
        "张伟",
        "王芳",
        "李娜",
        "刘洋",
        "陈静",
        "杨磊",
        "赵敏",
        "黄强",
        "周婷",
        "吴刚",
        "徐丽",
        "孙浩",
    ],
    "en": [
        "Alex Chen",
        "Maria Lopez",
        "John Smith",
        "Aisha Khan",
        "Tom Brown",
        "Lena Wu",
        "Sam Lee",
        "Nora Hall",
        "Ravi Patel",
        "Eva Green",
        "Omar Ali",
        "Iris Young",
    ],
}
# (kind, diagnosis or procedure, outcome, tags) per tenant kind.
_CASES = {
    "hospital": [
        ("discharge", "股骨颈骨折 / Femoral neck fracture", "好转", ""),
        ("discharge", "高血压 / Hypertension", "好转", "chronic"),
        ("discharge", "社区获得性肺炎 / Pneumonia", "治愈", ""),
        ("surgery", "腹腔镜胆囊切除 / Cholecystectomy", "治愈", ""),
        ("discharge", "2型糖尿病 / Type 2 diabetes", "好转", "chronic"),
        ("discharge", "足月顺产 / Vaginal delivery", "治愈", ""),
    ],
    "aesthetic": [
        ("surgery", "双眼皮手术 / Double eyelid surgery", "", ""),
        ("surgery", "隆鼻 / Rhinoplasty", "", "vip"),
        ("treatment_course", "光子嫩肤 / IPL course", "", ""),
        ("consultation", "抗衰老咨询 / Anti-ageing consultation", "", ""),
    ],
    "dental": [
        ("outpatient", "根管治疗 / Root canal treatment", "", ""),
        ("outpatient", "洁牙 / Scaling", "", ""),
        ("surgery", "智齿拔除 / Wisdom tooth extraction", "", ""),
        ("outpatient", "种植体复查 / Implant check", "", ""),
    ],
    "service": [
        ("sale", "新车交付 / New car delivery", "", ""),
        ("maintenance", "常规保养 / Regular service", "", ""),
        ("maintenance", "更换轮胎 / Tyre replacement", "", "vip"),
    ],
}


def sample_register(*, kind: str, locale: str, today: date, rows: int = 12) -> bytes:
    language = "zh" if locale.startswith("zh") else "en"
    rng = random.Random(f"{kind}-{today.isoformat()}")  # noqa: S311 - sample data, not secrets
    departments = list(Department.objects.filter(active=True).values_list("name", flat=True))
    cases = _CASES.get(kind, _CASES["hospital"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_HEADINGS[language])
    for index in range(rows):
        case_kind, subject, outcome, tags = cases[index % len(cases)]
        zh_subject, en_subject = subject.split(" / ")
        subject = zh_subject if language == "zh" else en_subject
        occurred = today - timedelta(days=3 + index % 3)
        phone = f"1380013{8000 + index:04d}" if index != 4 else "1380013"  # row 6: too short
        writer.writerow(
            [
                index + 1,
                departments[index % len(departments)] if departments else "",
                _NAMES[language][index % len(_NAMES[language])],
                ("男" if index % 2 else "女") if language == "zh" else ("M" if index % 2 else "F"),
                rng.randint(18, 85),
                f"S{today:%y%m%d}{index + 1:03d}",
                subject if case_kind != "surgery" else "",
                subject if case_kind == "surgery" else "",
                occurred.isoformat(),
                phone,
                "",
                outcome if language == "zh" else _OUTCOME_EN.get(outcome, ""),
                case_kind,
                tags,
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


_OUTCOME_EN = {"好转": "Improved", "治愈": "Cured"}
