"""Reading encounter registers (discharge lists …) from CSV or XLSX and checking each row.
Pure: no writes. crm.services.import_jobs commits what this accepts."""

import csv
import io
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import crypto, xlsx_reader
from .models import Encounter
from .phones import phone_normalise
from .selectors_kinds import KindLookup

MAX_ROWS = 200_000
MAX_COLUMNS = 200
# A register of 200,000 rows has some 3 million cells; more is not a register.
MAX_CELLS = 5_000_000
# What the process unpacking a workbook may use: a 200,000-row register needs ~250 MB.
XLSX_MEMORY_BYTES = 768 * 1024 * 1024
XLSX_SECONDS = 300
ZIP_MAGIC = b"PK\x03\x04"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ImportField:
    key: str
    label: str
    synonyms: tuple[str, ...] = ()


FIELDS = [
    ImportField(
        "external_id", gettext_lazy("External id"), ("external id", "id", "编号", "就诊号")
    ),
    ImportField("serial_no", gettext_lazy("Serial number"), ("serial", "no.", "序号")),
    ImportField(
        "record_no",
        gettext_lazy("Record number"),
        (
            "record no",
            "mrn",
            "inpatient no",
            "customer no",
            "customer number",
            "住院号",
            "病历号",
            "客户编号",
            "会员号",
        ),
    ),
    ImportField(
        "name",
        gettext_lazy("Name"),
        ("name", "patient", "customer", "姓名", "患者姓名", "客户姓名", "车主姓名"),
    ),
    ImportField("sex", gettext_lazy("Sex"), ("sex", "gender", "性别")),
    ImportField("age", gettext_lazy("Age"), ("age", "年龄")),
    ImportField("birth_date", gettext_lazy("Birth date"), ("birth date", "dob", "出生日期")),
    ImportField(
        "phone",
        gettext_lazy("Phone"),
        ("phone", "mobile", "telephone", "电话", "手机", "联系电话", "手机号"),
    ),
    ImportField("phone2", gettext_lazy("Second phone"), ("phone 2", "家属电话", "备用电话")),
    ImportField("email", gettext_lazy("Email"), ("email", "e-mail", "邮箱")),
    ImportField("address", gettext_lazy("Address"), ("address", "地址", "住址")),
    ImportField(
        "department", gettext_lazy("Department"), ("department", "dept", "科室", "出院科室")
    ),
    ImportField(
        "attending",
        gettext_lazy("Attending clinician"),
        ("doctor", "attending", "主治医生", "医生"),
    ),
    ImportField(
        "responsible_nurse",
        gettext_lazy("Responsible nurse"),
        ("responsible nurse", "nurse", "责任护士", "护士"),
    ),
    ImportField(
        "occurred_at",
        gettext_lazy("Date (discharge, operation, visit)"),
        (
            "discharge date",
            "date",
            "出院时间",
            "出院日期",
            "手术日期",
            "就诊日期",
            "治疗日期",
            "日期",
        ),
    ),
    ImportField(
        "admitted_at", gettext_lazy("Admission date"), ("admission date", "入院时间", "入院日期")
    ),
    ImportField("kind", gettext_lazy("Kind"), ("kind", "type", "类型")),
    ImportField(
        "diagnosis_code", gettext_lazy("Diagnosis code"), ("icd", "diagnosis code", "诊断编码")
    ),
    ImportField("diagnosis", gettext_lazy("Diagnosis"), ("diagnosis", "诊断", "出院诊断")),
    ImportField(
        "procedure_code", gettext_lazy("Procedure code"), ("procedure code", "手术编码", "项目编码")
    ),
    ImportField(
        "procedure",
        gettext_lazy("Procedure"),
        ("procedure", "operation", "手术名称", "项目", "治疗项目"),
    ),
    ImportField("treatment_course", gettext_lazy("Treatment course"), ("course", "疗程")),
    ImportField(
        "discharge_outcome", gettext_lazy("Outcome at discharge"), ("outcome", "转归", "出院情况")
    ),
    ImportField(
        "length_of_stay", gettext_lazy("Length of stay"), ("length of stay", "los", "住院天数")
    ),
    ImportField("bed", gettext_lazy("Bed"), ("bed", "床号")),
    ImportField("tags", gettext_lazy("Tags"), ("tags", "标签")),
    ImportField("notes", gettext_lazy("Notes"), ("notes", "备注")),
]
FIELD_KEYS = [f.key for f in FIELDS]
REQUIRED = ("name", "occurred_at")

_SEX = {"男": "M", "m": "M", "male": "M", "女": "F", "f": "F", "female": "F"}
_OUTCOMES = {
    "治愈": "cured",
    "好转": "improved",
    "未愈": "unchanged",
    "无效": "unchanged",
    "转院": "transferred",
    "死亡": "died",
    "自动出院": "self_discharged",
    "自动离院": "self_discharged",
}
# Words registers use for the built-in kinds (a clinic's own kinds match by code and name).
KIND_SYNONYMS = {
    "出院": "discharge",
    "手术": "surgery",
    "门诊": "outpatient",
    "疗程": "treatment_course",
    "咨询": "consultation",
    "销售": "sale",
    "购车": "sale",
    "保养": "maintenance",
    "维修": "maintenance",
    "预约": "appointment",
    "复诊预约": "appointment",
    "预约复诊": "appointment",
    "booked": "appointment",
}
DEFAULT_KIND = {
    "hospital": Encounter.Kind.DISCHARGE,
    "aesthetic": Encounter.Kind.SURGERY,
    "dental": Encounter.Kind.OUTPATIENT,
    "service": Encounter.Kind.SALE,
}


class FileError(Exception):
    """The file as a whole cannot be read; the message says why, for the user."""


def is_workbook(content: bytes) -> bool:
    """An XLSX workbook (a ZIP), which a worker unpacks (``xlsx_to_csv``) before it is read."""
    return content.startswith(ZIP_MAGIC)


def read_table(filename: str, content: bytes) -> tuple[list[str], list[list[str]]]:
    """Headers and rows (as text) of a CSV file in UTF-8 or GB18030 (what Excel in China
    saves), or of an XLSX workbook's first sheet through ``xlsx_to_csv``. An uploaded
    workbook is kept as the CSV it was unpacked to, under its own name."""
    name = filename.lower().rsplit("/", 1)[-1]
    if is_workbook(content):
        rows = _read_csv(xlsx_to_csv(content))
    elif content.startswith(b"\xd0\xcf\x11\xe0"):  # the old binary Excel format
        raise FileError(_("Excel 97–2003 (.xls) files cannot be read: save the sheet as .xlsx."))
    elif name.endswith((".csv", ".txt", ".xlsx", ".xlsm")) or "." not in name:
        rows = _read_csv(content)
    else:
        raise FileError(_("Upload a .csv or .xlsx file."))
    # Row numbers must stay those the spreadsheet shows: blank rows are kept (and skipped by
    # the checks), only trailing ones are dropped.
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise FileError(_("The file is empty or its first row has no column headings."))
    headers = [h.strip() for h in rows[0]]
    while headers and not headers[-1]:
        headers.pop()
    if len(rows) - 1 > MAX_ROWS:
        raise FileError(_too_many_rows())
    return headers, rows[1:]


def _too_many_rows() -> str:
    return _("The file has more than %(max)s rows; split it into smaller files.") % {
        "max": MAX_ROWS
    }


def _read_csv(content: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise FileError(_("The file is not readable text."))
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [list(row) for row in csv.reader(io.StringIO(text), dialect)]


def xlsx_to_csv(content: bytes) -> bytes:
    """The workbook's first sheet as UTF-8 CSV, unpacked by crm.xlsx_reader in a process of
    its own under a memory ceiling and a time limit: what a workbook declares or unpacks to
    cannot take the caller's memory. Raises FileError with the reason for the user."""
    if not content.startswith(ZIP_MAGIC):
        raise FileError(_("The file is not a readable Excel workbook."))
    limits = [str(XLSX_MEMORY_BYTES), str(MAX_ROWS), str(MAX_COLUMNS), str(MAX_CELLS)]
    try:
        finished = subprocess.run(  # noqa: S603 - our interpreter, our module, numbers
            [sys.executable, "-m", "crm.xlsx_reader", *limits],
            input=content,
            capture_output=True,
            cwd=PROJECT_ROOT,
            timeout=XLSX_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise FileError(_workbook_too_large()) from exc
    if finished.returncode == 0:
        return finished.stdout
    reason = finished.stderr.decode(errors="replace").strip()
    if reason == xlsx_reader.NOT_A_WORKBOOK:
        raise FileError(_("The file is not a readable Excel workbook."))
    if reason == xlsx_reader.TOO_MANY_ROWS:
        raise FileError(_too_many_rows())
    if reason == xlsx_reader.TOO_MANY_COLUMNS:
        raise FileError(
            _("The first row has more than %(max)s column headings.") % {"max": MAX_COLUMNS}
        )
    # Too many cells, the memory ceiling reached (MemoryError, or killed), the time limit.
    raise FileError(_workbook_too_large())


def _workbook_too_large() -> str:
    return _(
        "The workbook is too large to read. Save the sheet as CSV (UTF-8), or split it into "
        "smaller files."
    )


def mapping_guess(headers: list[str], remembered: dict[str, str]) -> dict[str, str]:
    """header → field key: what was used last time for this header, else a known synonym."""
    guessed = {}
    for header in headers:
        if header in remembered and remembered[header] in FIELD_KEYS:
            guessed[header] = remembered[header]
            continue
        folded = header.strip().lower()
        for f in FIELDS:
            if folded == f.key or folded in f.synonyms or folded == str(f.label).lower():
                guessed[header] = f.key
                break
    return guessed


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?\Z")


def _parse_date(text: str) -> datetime | None:
    """Dates as hospital systems and Excel write them; None when empty."""
    text = text.strip()
    if not text:
        return None
    if _ISO_DATE.match(text):  # the common shape, parsed in C (strptime costs ~10 µs a try)
        return datetime.fromisoformat(text)
    text = re.sub(r"(\d+)年(\d+)月(\d+)日?", r"\1-\2-\3", text).replace("/", "-").replace(".", "-")
    text = text.replace("T", " ")
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise ValueError(text)


@dataclass
class RowCheck:
    number: int  # the row number as a spreadsheet shows it (the header is row 1)
    values: dict = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    # A stable code per error, parallel to ``errors``, for the integration API's clients.
    codes: list[str] = field(default_factory=list)

    def error(self, key: str, message: str, code: str = "invalid") -> None:
        self.errors.append((key, message))
        self.codes.append(code)


@dataclass
class RowContext:
    zone: object
    region: str
    tenant_kind: str
    departments: dict[str, int]  # lower-case code or name → id
    staff: dict[str, int]  # lower-case full name or email → user id
    now: datetime
    # The clinic's kinds (crm.selectors_kinds.kind_lookup); without them, the built-in ones.
    kinds: KindLookup | None = None
    # Dates after this are in the future (a day of slack for clocks and time zones).
    latest: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.latest = self.now + timedelta(days=1)
        if self.kinds is None:
            self.kinds = builtin_kind_lookup()


def builtin_kind_lookup() -> KindLookup:
    """The built-in kinds as a lookup, for checks made without a clinic's own kinds."""
    codes = dict(KIND_SYNONYMS)
    for code, label in Encounter.Kind.choices:
        codes[code] = code
        codes[str(label).lower()] = code
    return KindLookup(
        codes=codes,
        names=tuple(str(label) for _code, label in Encounter.Kind.choices),
        booking=frozenset({Encounter.Kind.APPOINTMENT}),
    )


def row_is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


# Text columns with a length limit in the database: a longer value is rejected by the checks
# (with the field named) rather than by PostgreSQL, which would fail the whole batch.
MAX_LENGTHS = {
    "serial_no": 30,
    "diagnosis": 300,
    "procedure": 300,
    "treatment_course": 100,
    "bed": 20,
    "address": 300,
    "email": 254,
}
TAG_MAX_LENGTH = 40
SMALLINT_MAX = 32_767  # age and length of stay are PostgreSQL smallints
_TEXT_KEYS = (
    "serial_no",
    "address",
    "diagnosis_code",
    "diagnosis",
    "procedure_code",
    "procedure",
    "treatment_course",
    "bed",
    "notes",
)
_PHONE_SEPARATORS = re.compile(r"[;,/、，；]")
_TAG_SEPARATORS = re.compile(r"[;,、，；]")


def row_check(number: int, raw: dict[str, str], ctx: RowContext) -> RowCheck:
    """Check and convert one row (field key → text). Runs once per row of a nightly push of
    100,000: written for speed (one pass over the row's own keys, work only for the fields
    it has), with the error order stable: required, email, sex, numbers, dates, phones,
    department, kind, outcome, lengths."""
    row = RowCheck(number=number)
    v = row.values
    s = {key: text.strip() for key, text in raw.items() if text}
    get = s.get

    for key in REQUIRED:
        if not get(key):
            row.error(key, _("%(field)s is missing.") % {"field": _label(key)}, "required")
    v["name"] = get("name", "")[:100]
    v["record_no"] = get("record_no", "")[:50]
    v["external_id"] = get("external_id", "")[:100]
    for key in _TEXT_KEYS:
        v[key] = get(key, "")
    if v["diagnosis_code"]:
        v["diagnosis_code"] = v["diagnosis_code"].upper()[:30]
    if v["procedure_code"]:
        v["procedure_code"] = v["procedure_code"].upper()[:30]
    email = v["email"] = get("email", "").lower()
    if email and "@" not in email:
        row.error("email", _("“%(value)s” is not an email address.") % {"value": email}, "email")

    sex = get("sex", "").lower()
    v["sex"] = _SEX.get(sex, "") if sex else ""
    if sex and not v["sex"]:
        row.error("sex", _("Sex must be 男/女 or M/F, not “%(value)s”.") % {"value": sex}, "choice")

    for key in ("age", "length_of_stay"):
        v[key] = None
        text = get(key)
        if not text:
            continue
        text = text.removesuffix("岁").removesuffix("天")
        # isascii: str.isdigit accepts superscripts and other digits int() refuses.
        if text.isascii() and text.isdigit() and int(text) <= min(150 * 365, SMALLINT_MAX):
            v[key] = int(text)
        else:
            row.error(
                key, _("%(field)s must be a whole number.") % {"field": _label(key)}, "number"
            )
    if v["age"] is not None and v["age"] > 150:
        row.error("age", _("Age must be between 0 and 150."), "range")

    for key in ("occurred_at", "admitted_at", "birth_date"):
        text = get(key)
        v[key] = None
        if not text:
            continue
        try:
            parsed = _parse_date(text)
        except ValueError:
            row.error(
                key,
                _("“%(value)s” is not a date (write 2026-11-23).") % {"value": text},
                "date",
            )
            continue
        if key == "occurred_at":
            # _parse_date's datetimes are naive: what timezone.make_aware does, without its
            # checks, once per row of a 100,000-row push.
            aware = (parsed if parsed.time() != time.min else parsed.replace(hour=12)).replace(
                tzinfo=ctx.zone
            )
            if aware > ctx.latest and not _booked(get("kind"), ctx):
                row.error(
                    key, _("The date %(value)s is in the future.") % {"value": text}, "future_date"
                )
            v[key] = aware
        else:
            v[key] = parsed.date()

    phones = []
    for key in ("phone", "phone2"):
        text = get(key)
        if not text:
            continue
        for part in _PHONE_SEPARATORS.split(text):
            if not part.strip():
                continue
            try:
                phones.append(phone_normalise(part, ctx.region))
            except ValidationError as exc:
                row.error(key, exc.messages[0], "phone")
    v["phones"] = list(dict.fromkeys(phones)) if len(phones) > 1 else phones

    department = get("department")
    v["department_id"] = None
    if department:
        v["department_id"] = ctx.departments.get(department.lower())
        if v["department_id"] is None:
            row.error(
                "department",
                _("Unknown department “%(value)s”.") % {"value": department},
                "unknown_department",
            )
    attending = get("attending", "")
    v["attending_name"] = attending[:100]
    v["attending_id"] = ctx.staff.get(attending.lower()) if attending else None
    # Unlike the attending clinician (often a name only), the nurse is who gets the call: a
    # name that is nobody on the staff would leave it with no one, so the row waits.
    nurse = get("responsible_nurse", "")
    v["responsible_nurse_name"] = nurse[:100]
    v["responsible_nurse_id"] = ctx.staff.get(nurse.lower()) if nurse else None
    if nurse and v["responsible_nurse_id"] is None:
        row.error(
            "responsible_nurse",
            _(
                "No active staff member is called “%(value)s” (responsible nurse): add them "
                "under Staff, or correct the name."
            )
            % {"value": nurse},
            "unknown_staff",
        )

    kind = get("kind")
    if kind:
        v["kind"] = ctx.kinds.find(kind)
        if v["kind"] is None:
            row.error(
                "kind",
                _("Unknown kind “%(value)s”. The clinic's kinds: %(kinds)s.")
                % {"value": kind, "kinds": ", ".join(ctx.kinds.names)},
                "choice",
            )
    else:
        v["kind"] = DEFAULT_KIND.get(ctx.tenant_kind, Encounter.Kind.DISCHARGE)
    outcome = get("discharge_outcome")
    v["discharge_outcome"] = ""
    if outcome:
        v["discharge_outcome"] = _choice(outcome, Encounter.Outcome, _OUTCOMES)
        if v["discharge_outcome"] is None:
            row.error(
                "discharge_outcome",
                _("Unknown outcome at discharge “%(value)s”.") % {"value": outcome},
                "choice",
            )
    tags = get("tags")
    v["tags"] = []
    if tags:
        v["tags"] = sorted({t.strip() for t in _TAG_SEPARATORS.split(tags) if t.strip()})

    for key, limit in MAX_LENGTHS.items():
        if len(v[key]) > limit:
            row.error(key, _too_long(key, limit), "too_long")
    if any(len(tag) > TAG_MAX_LENGTH for tag in v["tags"]):
        row.error("tags", _too_long("tags", TAG_MAX_LENGTH), "too_long")
    if not row.errors:
        v["key"] = encounter_key(v)
    return row


def _too_long(key: str, limit: int) -> str:
    return _("%(field)s is longer than %(max)s characters.") % {"field": _label(key), "max": limit}


def _choice(text: str, choices, synonyms: dict[str, str]) -> str | None:
    folded = text.strip().lower()
    if folded in synonyms:
        return synonyms[folded]
    for value, label in choices.choices:
        if value and folded in (value, str(label).lower()):
            return value
    return None


def _booked(kind: str | None, ctx: RowContext) -> bool:
    """A booked return visit, the kinds whose date lies ahead."""
    return bool(kind) and ctx.kinds.find(kind) in ctx.kinds.booking


def _label(key: str) -> str:
    return next(str(f.label) for f in FIELDS if f.key == key)


def encounter_key(values: dict) -> str:
    """The encounter's identity in the import source: its external id when the file has one,
    else record number (or first phone, or name) with the local date. Re-importing the same
    file therefore finds the same encounters. A phone or a name is written as its blind index
    (``#`` and hex): the key is stored as is, and they are encrypted at rest."""
    if values["external_id"]:
        return values["external_id"]
    if values["record_no"]:
        who = values["record_no"]
    elif values["phones"]:
        who = "#" + crypto.blind_phone(values["phones"][0])
    else:
        who = "#" + crypto.blind_name(values["name"])
    return f"{who}@{values['occurred_at'].date().isoformat()}:{values['kind']}"
