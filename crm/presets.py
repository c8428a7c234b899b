"""What a new clinic of each kind starts with (DESIGN.md §5.4), as plain data in both
languages: its departments, the outcome codes under the fixed categories, and its follow-up
rules. At provisioning crm.services.staff writes the departments, crm.services.seeding the
rest."""

DEPARTMENTS: dict[str, list[tuple[str, str, str]]] = {
    "hospital": [
        ("internal", "内科", "Internal Medicine"),
        ("cardiology", "心血管内科", "Cardiology"),
        ("respiratory", "呼吸内科", "Respiratory Medicine"),
        ("gastro", "消化内科", "Gastroenterology"),
        ("neurology", "神经内科", "Neurology"),
        ("nephrology", "肾内科", "Nephrology"),
        ("endocrine", "内分泌科", "Endocrinology"),
        ("general-surgery", "普外科", "General Surgery"),
        ("orthopaedics", "骨科", "Orthopaedics"),
        ("neurosurgery", "神经外科", "Neurosurgery"),
        ("urology", "泌尿外科", "Urology"),
        ("thoracic", "胸外科", "Thoracic Surgery"),
        ("obstetrics", "产科", "Obstetrics"),
        ("gynaecology", "妇科", "Gynaecology"),
        ("paediatrics", "儿科", "Paediatrics"),
        ("ophthalmology", "眼科", "Ophthalmology"),
        ("ent", "耳鼻喉科", "Otorhinolaryngology (ENT)"),
        ("stomatology", "口腔科", "Stomatology"),
        ("dermatology", "皮肤科", "Dermatology"),
        ("oncology", "肿瘤科", "Oncology"),
        ("rehabilitation", "康复医学科", "Rehabilitation Medicine"),
        ("tcm", "中医科", "Traditional Chinese Medicine"),
        ("emergency", "急诊科", "Emergency"),
        ("icu", "重症医学科", "Intensive Care"),
    ],
    "aesthetic": [
        ("customer-service", "客服中心", "Customer Service Centre"),
        ("post-op-care", "术后护理组", "Post-operative Care Team"),
        ("medical-aesthetics", "医疗美容组", "Medical Aesthetics Team"),
        ("consultation", "咨询中心", "Consultation Centre"),
        ("skin-care", "皮肤美容组", "Skin Care Team"),
    ],
    "dental": [
        ("general", "口腔全科", "General Dentistry"),
        ("prosthodontics", "口腔修复科", "Prosthodontics"),
        ("orthodontics", "口腔正畸科", "Orthodontics"),
        ("periodontics", "牙周科", "Periodontics"),
        ("implants", "口腔种植科", "Dental Implants"),
        ("paediatric", "儿童口腔科", "Paediatric Dentistry"),
        ("oral-surgery", "口腔颌面外科", "Oral and Maxillofacial Surgery"),
        ("front-desk", "前台客服", "Front Desk"),
    ],
    "service": [
        ("sales", "销售部", "Sales"),
        ("after-sales", "售后服务部", "After-sales Service"),
        ("customer-service", "客服中心", "Customer Service Centre"),
        ("workshop", "维修车间", "Workshop"),
    ],
}


# One outcome code per fixed category, as (code, category, 简体中文, English). Tenants add
# their own codes on top (e.g. "family member answered" under reached).
OUTCOME_CODES: list[tuple[str, str, str, str]] = [
    ("reached", "reached", "已接通", "Reached"),
    ("no-answer", "no_answer", "无人接听", "No answer"),
    ("busy", "busy", "占线", "Busy"),
    ("powered-off", "powered_off", "关机", "Powered off"),
    ("suspended", "suspended", "停机", "Line suspended"),
    ("wrong-number", "wrong_number", "空号/错号", "Wrong or empty number"),
    ("refused", "refused", "拒访", "Refused"),
    ("suspected-fraud", "hung_up_suspected_fraud", "疑似诈骗挂断", "Hung up, suspected fraud"),
    ("language-barrier", "language_barrier", "语言不通", "Language barrier"),
    ("hearing-impaired", "hearing_impaired", "听力障碍", "Hearing impaired"),
    ("deceased", "deceased", "已故", "Deceased"),
    ("transferred", "transferred_elsewhere", "已转院", "Transferred elsewhere"),
    ("readmitted", "readmitted", "再次入院", "Readmitted"),
    ("opted-out", "opted_out", "要求不再联系", "Asked not to be contacted"),
]


def _step(zh, en, opens, due, **options):
    return {"name": (zh, en), "offset_days": opens, "due_days": due, **options}


def _team(code):
    return {"assignee_policy": "team", "team": code}


# Follow-up rules per tenant kind (DESIGN.md §5.4). Names are (简体中文, English).
RULES: dict[str, list[dict]] = {
    "hospital": [
        {
            "name": ("手术患者回访", "Surgery follow-up"),
            "match_kinds": ["surgery"],
            "exclude_tags": ["privacy-sensitive"],
            "steps": [
                _step("术后第 3 天", "Day 3", 3, 3, tier=1, assignee_policy="clinician"),
                _step("术后 1 周", "Week 1", 7, 8),
                _step("术后 1 个月", "Month 1", 30, 33),
            ],
        },
        {
            "name": ("慢病随访", "Chronic disease follow-up"),
            "match_tags": ["chronic"],
            "exclude_outcomes": ["died"],
            "exclude_tags": ["privacy-sensitive"],
            "steps": [
                _step("首次随访", "First follow-up", 0, 7),
                _step(
                    "每 30 天随访",
                    "Every 30 days",
                    30,
                    37,
                    repeat_every_days=30,
                    repeat_limit=3,
                    stop_when="recovered",
                ),
            ],
        },
        # The discharge follow-up regulations name who calls: the responsible nurse (责任护士)
        # a cured patient, the attending doctor an improved or transferred one, the follow-up
        # centre everyone else. The first two are exclusive so that the centre's rule after
        # them does not call the same patient again; they come after the surgery and chronic
        # rules, which a discharge may match as well and must keep.
        {
            "name": ("出院回访（治愈）", "Discharge follow-up (cured)"),
            "match_kinds": ["discharge"],
            "match_outcomes": ["cured"],
            "exclusive": True,
            "exclude_tags": ["privacy-sensitive"],
            "steps": [_step("出院 3–7 天", "Day 3–7", 3, 7, tier=1, assignee_policy="nurse")],
        },
        {
            "name": ("出院回访（好转/转院）", "Discharge follow-up (improved or transferred)"),
            "match_kinds": ["discharge"],
            "match_outcomes": ["improved", "transferred"],
            "exclusive": True,
            "exclude_tags": ["privacy-sensitive"],
            "steps": [_step("出院 3–7 天", "Day 3–7", 3, 7, tier=1, assignee_policy="clinician")],
        },
        {
            "name": ("出院回访", "Discharge follow-up"),
            "match_kinds": ["discharge"],
            "exclude_outcomes": ["died", "self_discharged"],
            "exclude_tags": ["privacy-sensitive"],
            "steps": [_step("出院 3–7 天", "Day 3–7", 3, 7)],
        },
    ],
    # The aesthetic clinic regulations name who calls: the customer service centre after a
    # discharge, the post-op care team after surgery, the medical aesthetics team after a
    # treatment course, the consultation centre after a consultation ("team" is a code of
    # DEPARTMENTS["aesthetic"], resolved by crm.services.seeding.rules_seed).
    "aesthetic": [
        {
            "name": ("术后回访", "Post-op follow-up"),
            "match_kinds": ["surgery"],
            "steps": [
                _step("术后第 3 天", "Day 3", 3, 3, **_team("post-op-care")),
                _step("术后 1 周", "Week 1", 7, 8, **_team("post-op-care")),
                _step("术后 1 个月", "Month 1", 30, 32, **_team("post-op-care")),
            ],
        },
        {
            "name": ("出院回访", "Discharge follow-up"),
            "match_kinds": ["discharge"],
            "steps": [_step("出院 3 天内", "Within 3 days", 1, 3, **_team("customer-service"))],
        },
        {
            "name": ("疗程回访", "Treatment course follow-up"),
            "match_kinds": ["treatment_course"],
            "steps": [
                _step(
                    "疗程结束 1 周",
                    "Week 1 after the course",
                    7,
                    8,
                    **_team("medical-aesthetics"),
                )
            ],
        },
        {
            "name": ("咨询回访", "Consultation follow-up"),
            "match_kinds": ["consultation"],
            "steps": [
                _step("咨询后 3 天", "Day 3 after consultation", 3, 4, **_team("consultation"))
            ],
        },
    ],
    "dental": [
        {
            "name": ("治疗后回访", "Post-treatment call"),
            "match_kinds": ["outpatient", "surgery"],
            "steps": [_step("治疗次日", "Next day", 1, 1, max_attempts=2)],
        },
        {
            "name": ("洁牙复查提醒", "Hygiene recall"),
            "match_kinds": ["outpatient"],
            "steps": [
                _step(
                    "每 6 个月复查",
                    "Every 6 months",
                    180,
                    194,
                    repeat_every_days=182,
                    repeat_limit=4,
                )
            ],
        },
    ],
    # A dealer's customer service centre makes the satisfaction calls after a sale or a
    # service, independent of who sold or serviced the car; after-sales owns bringing the
    # car back: the first-service reminder and the call to a customer who stopped coming.
    "service": [
        {
            "name": ("销售回访", "Sale follow-up"),
            "match_kinds": ["sale"],
            "steps": [
                _step("购车后 3 天", "Day 3 after sale", 3, 4, **_team("customer-service")),
                _step(
                    "首保提醒（3 个月）",
                    "First-service reminder (3 months)",
                    90,
                    97,
                    **_team("after-sales"),
                ),
            ],
        },
        {
            "name": ("保养回访", "Maintenance follow-up"),
            "match_kinds": ["maintenance"],
            "steps": [
                _step("保养后 3 天", "Day 3 after service", 3, 4, **_team("customer-service"))
            ],
        },
        {
            "name": ("流失客户回访", "Lapsed-customer call"),
            "trigger": "lapsed",
            "lapse_days": 180,
            "match_kinds": ["sale", "maintenance"],
            "steps": [
                _step(
                    "半年未到店",
                    "No visit for 6 months",
                    0,
                    14,
                    **_team("after-sales"),
                )
            ],
        },
    ],
}
