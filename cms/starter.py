"""Starter health-education articles, in 简体中文 and English, per tenant kind. They are seeded
into the template schema (so a clone carries them) and provisioning keeps those of the new
tenant's kind. They are ordinary pages: the clinic edits, unpublishes or deletes them.

Each article: slug, kinds, tags, and per language (title, summary, paragraphs, warning signs).
The advice is general and tells the reader to follow their own clinician's instructions."""

HOME = {
    "zh-hans": {
        "title": "首页",
        "intro": "欢迎访问本院的健康宣教页面。这里有出院、术后和治疗后的护理知识，帮助您顺利康复。",
        "index_title": "健康宣教",
        "index_intro": "按科室、手术或关键词查找适合您的护理知识。",
        "hours": "周一至周五 08:00–17:30\n周六 08:00–12:00",
    },
    "en": {
        "title": "Home",
        "intro": "Welcome to our health education pages: care after discharge, surgery and "
        "treatment, to help you recover well.",
        "index_title": "Health education",
        "index_intro": "Find care advice by department, procedure or keyword.",
        "hours": "Monday–Friday 08:00–17:30\nSaturday 08:00–12:00",
    },
}

ARTICLES = [
    {
        "slug": "discharge-home-care",
        "kinds": ["hospital"],
        "departments": [
            "internal", "cardiology", "respiratory", "gastro", "neurology", "nephrology",
            "endocrine",
        ],
        "procedures": [],
        "codes": [],
        "audience": "everyone",
        "zh-hans": (
            "出院后居家护理须知",
            "出院不等于康复结束。按时服药、合理饮食、适量活动并按期复诊，是顺利康复的关键。",
            [
                "请按出院小结上的医嘱按时、按量服药，不要自行停药或更改剂量。如有疑问，请先咨询医生或药师。",
                "饮食宜清淡、均衡，少盐少油，多吃蔬菜水果；有糖尿病、肾病等慢性病者请遵循专门的饮食建议。",
                "根据体力逐步增加活动，避免劳累；保证充足睡眠，戒烟限酒。",
                "请按出院小结上的日期按时复诊，复诊时带上出院小结、检查结果和正在服用的药物。",
            ],
            "出现以下情况请及时就医",
            ["发热超过 38.5℃ 或持续不退", "胸痛、气促或呼吸困难", "原有症状明显加重"],
        ),
        "en": (
            "Caring for yourself at home after discharge",
            "Going home is not the end of recovery. Taking your medicines, eating well, "
            "staying active and keeping your follow-up appointment are what matter most.",
            [
                "Take your medicines exactly as written on your discharge summary. Do not stop "
                "or change a dose on your own; ask your doctor or pharmacist if unsure.",
                "Eat light, balanced meals with less salt and fat and plenty of vegetables and "
                "fruit. If you have diabetes or kidney disease, follow the diet you were given.",
                "Increase activity step by step as your strength returns, sleep enough, and "
                "avoid smoking and alcohol.",
                "Keep the follow-up appointment on your discharge summary and bring the summary, "
                "test results and the medicines you take.",
            ],
            "See a doctor promptly if",
            [
                "you have a fever above 38.5 °C or one that does not go down",
                "you have chest pain or shortness of breath",
                "your symptoms clearly get worse",
            ],
        ),
    },
    {
        "slug": "wound-care-after-surgery",
        "kinds": ["hospital", "aesthetic"],
        "departments": [
            "general-surgery", "orthopaedics", "neurosurgery", "urology", "thoracic",
            "gynaecology", "post-op-care", "medical-aesthetics",
        ],
        "procedures": [],
        "codes": [],
        "audience": "patient",
        "zh-hans": (
            "术后伤口护理",
            "保持伤口清洁干燥、按时换药、留意感染迹象，可以帮助伤口顺利愈合。",
            [
                "术后伤口敷料请保持清洁干燥，按医护人员告知的时间换药；换药前后请洗手。",
                "拆线前避免伤口沾水；淋浴时可用防水敷料保护，洗澡后如敷料潮湿请及时更换。",
                "避免剧烈运动和提重物，以免伤口裂开；咳嗽时可用手轻压伤口。",
                "伤口愈合期间饮食宜富含蛋白质和维生素，戒烟有助于愈合。",
            ],
            "出现以下情况请及时联系我们",
            ["伤口红肿、发热、疼痛加重", "伤口渗液、渗血或有异味", "体温超过 38℃"],
        ),
        "en": (
            "Caring for your wound after surgery",
            "Keeping the wound clean and dry, changing the dressing on time and watching for "
            "signs of infection help it heal well.",
            [
                "Keep the dressing clean and dry and change it when your nurse told you to. Wash "
                "your hands before and after.",
                "Keep the wound out of water until the stitches are out. A waterproof dressing "
                "helps in the shower; replace a dressing that got wet.",
                "Avoid strenuous exercise and lifting heavy things so the wound does not open. "
                "Press gently on the wound when you cough.",
                "Eat enough protein and vitamins while the wound heals. Not smoking helps it heal.",
            ],
            "Contact us promptly if",
            [
                "the wound becomes red, hot, swollen or more painful",
                "it oozes fluid or blood or smells bad",
                "your temperature is above 38 °C",
            ],
        ),
    },
    {
        "slug": "post-extraction-care",
        "kinds": ["dental"],
        "departments": ["oral-surgery", "general"],
        "procedures": ["拔牙", "extraction"],
        "codes": [],
        "audience": "patient",
        "zh-hans": (
            "拔牙后注意事项",
            "拔牙后正确护理可以减少出血和疼痛，避免干槽症等并发症。",
            [
                "拔牙后咬紧棉球 30–40 分钟后吐掉，不要反复吐口水或用舌头舔伤口。",
                "24 小时内不要刷拔牙侧、不要漱口，可用冰袋在脸颊外冷敷以减轻肿胀。",
                "当天宜吃温凉、软的食物，避免用拔牙侧咀嚼；不要用吸管，不要吸烟饮酒。",
                "如医生开了止痛药或抗生素，请按时服用。",
            ],
            "出现以下情况请及时联系我们",
            ["出血 24 小时后仍不止", "疼痛 2–3 天后反而加重", "面部肿胀加重或发热"],
        ),
        "en": (
            "After a tooth extraction",
            "Caring for the socket the right way reduces bleeding and pain and helps prevent "
            "a dry socket.",
            [
                "Bite firmly on the gauze for 30–40 minutes, then remove it. Do not keep spitting "
                "or touch the socket with your tongue.",
                "For 24 hours do not brush next to the socket or rinse your mouth. A cold pack on "
                "the cheek reduces swelling.",
                "Eat soft, lukewarm food that day and chew on the other side. Do not use a straw, "
                "smoke or drink alcohol.",
                "Take any painkillers or antibiotics you were given as prescribed.",
            ],
            "Contact us promptly if",
            [
                "bleeding has not stopped after 24 hours",
                "pain gets worse after 2–3 days",
                "swelling increases or you have a fever",
            ],
        ),
    },
    {
        "slug": "skin-care-after-procedure",
        "kinds": ["aesthetic"],
        "departments": ["skin-care", "medical-aesthetics"],
        "procedures": ["激光", "光子", "水光", "果酸", "laser", "peel", "IPL"],
        "codes": [],
        "audience": "patient",
        "zh-hans": (
            "医美术后皮肤护理",
            "激光、光子、果酸等治疗后皮肤屏障较脆弱，做好保湿和防晒，恢复更快、效果更好。",
            [
                "治疗后 24–48 小时内可冷敷，减轻红肿和灼热感；不要用热水洗脸。",
                "使用温和的清洁和保湿产品，暂停含酸类、视黄醇和磨砂成分的护肤品一周。",
                "严格防晒：外出戴帽子或打伞，医生允许后使用防晒霜。",
                "结痂请让其自然脱落，不要抠抓。",
            ],
            "出现以下情况请及时联系我们",
            ["红肿、疼痛持续加重", "出现水疱、渗液或脓点", "大面积色素沉着"],
        ),
        "en": (
            "Skin care after a skin treatment",
            "After laser, IPL or peel treatments the skin barrier is fragile. Moisturising and "
            "sun protection speed up recovery and improve the result.",
            [
                "Use cool compresses during the first 24–48 hours to ease redness and heat; do "
                "not wash with hot water.",
                "Use gentle cleansers and moisturisers; pause acids, retinol and scrubs for a "
                "week.",
                "Protect from the sun: wear a hat or use an umbrella, and sunscreen once your "
                "clinician allows it.",
                "Let scabs fall off on their own; do not pick them.",
            ],
            "Contact us promptly if",
            [
                "redness or pain keeps getting worse",
                "blisters, oozing or pus appear",
                "large dark patches appear",
            ],
        ),
    },
    {
        "slug": "vaccination-reminder",
        "kinds": ["hospital"],
        "departments": ["paediatrics"],
        "procedures": [],
        "codes": [],
        "audience": "parent",
        "zh-hans": (
            "宝宝疫苗接种提醒",
            "按免疫程序按时接种疫苗，是保护孩子健康最有效的方法之一。",
            [
                "请妥善保管预防接种证，按接种证上预约的日期带孩子接种。",
                "接种前如孩子发热、腹泻或有其他不适，请告知接种医生，必要时推迟接种。",
                "接种后请在接种点留观 30 分钟；当天注射部位保持清洁。",
                "接种后出现低热、局部红肿多为一般反应，通常 2–3 天消退。",
            ],
            "出现以下情况请及时就医",
            ["高热超过 39℃", "孩子精神差、持续哭闹", "出现皮疹、呼吸困难"],
        ),
        "en": (
            "Your baby's vaccinations",
            "Vaccinating on schedule is one of the best ways to protect your child's health.",
            [
                "Keep the vaccination record safe and bring your child on the dates booked in it.",
                "Tell the vaccinating doctor if your child has a fever, diarrhoea or feels unwell; "
                "the vaccination may be postponed.",
                "Stay at the clinic for 30 minutes after the vaccination and keep the injection "
                "site clean that day.",
                "A mild fever or redness at the injection site is common and usually passes in "
                "2–3 days.",
            ],
            "See a doctor promptly if",
            [
                "the fever is above 39 °C",
                "your child is listless or cries without stopping",
                "a rash or breathing difficulty appears",
            ],
        ),
    },
    {
        "slug": "postpartum-check",
        "kinds": ["hospital"],
        "departments": ["obstetrics"],
        "procedures": [],
        "codes": [],
        "audience": "patient",
        "zh-hans": (
            "产后 42 天复查提醒",
            "产后 42 天左右请母婴一同回院复查，了解身体恢复情况和宝宝生长发育。",
            [
                "复查内容一般包括血压、体重、子宫恢复、伤口愈合和盆底功能评估。",
                "宝宝同时进行体格检查，了解生长发育和喂养情况。",
                "复查时请带上出院小结、母子健康手册和宝宝的预防接种证。",
                "产后注意休息和营养，保持心情舒畅；如情绪持续低落，请告诉医生。",
            ],
            "出现以下情况请不要等到复查，及时就医",
            ["阴道出血增多或有异味", "发热、乳房红肿疼痛", "持续情绪低落或焦虑"],
        ),
        "en": (
            "Your check-up 42 days after giving birth",
            "Around 42 days after the birth, please come back with your baby to check how you "
            "are recovering and how your baby is growing.",
            [
                "The check usually covers blood pressure, weight, the womb, wound healing and the "
                "pelvic floor.",
                "Your baby has a physical examination covering growth and feeding.",
                "Bring your discharge summary, the maternal and child health handbook and your "
                "baby's vaccination record.",
                "Rest, eat well and look after your mood; tell your doctor if you keep feeling "
                "low.",
            ],
            "Do not wait for the check-up; see a doctor promptly if",
            [
                "vaginal bleeding increases or smells bad",
                "you have a fever or a red, painful breast",
                "you keep feeling low or anxious",
            ],
        ),
    },
]  # fmt: skip
