"""Project-wide guarantees: migrations committed, production settings pass the deploy check,
ruff is clean, and the zh-Hans catalog is complete and compiled."""

import os
import re
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
# The project catalog, and an app's own where the app keeps one (makemessages run at the root
# writes an app's strings into <app>/locale when that folder exists).
CATALOGS = [ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"] + sorted(
    ROOT.glob("*/locale/zh_Hans/LC_MESSAGES/django.po")
)


def test_migrations_are_committed(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_production_settings_pass_the_deploy_check():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "EMAIL_URL": "smtp://mailer:secret@smtp.carebridge.example:587/?tls=True",
        "DJANGO_SETTINGS_MODULE": "saas.settings.production",
        "SECRET_KEY": "x" * 30 + "production-like-secret-key-for-check-" + "y" * 20,
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "FIELD_ENCRYPTION_KEYS": "cHJvZHVjdGlvbi10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
        "BASE_DOMAIN": "carebridge.example",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_ruff_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stdout


def _catalog_entries() -> list[tuple[str, str, bool, str]]:
    """(msgid, msgstr, fuzzy, msgctxt) for every entry but the header, of every catalog."""
    blocks = [
        block for catalog in CATALOGS for block in catalog.read_text(encoding="utf-8").split("\n\n")
    ]
    entries = []
    for block in blocks:
        if "msgid" not in block:
            continue
        fuzzy = "#, fuzzy" in block or ", fuzzy" in block

        def field(name, text=block):
            match = re.search(rf'^{name} ((?:".*"\n?)+)', text, re.MULTILINE)
            if not match:
                return ""
            parts = re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1))
            return "".join(parts).encode().decode("unicode_escape").encode("latin-1").decode()

        msgid = field("msgid")
        msgstr = field("msgstr") or field(r"msgstr\[0\]")
        if msgid:
            entries.append((msgid, msgstr, fuzzy, field("msgctxt")))
    return entries


def test_zh_hans_catalog_is_complete_and_compiled():
    entries = _catalog_entries()

    assert len(entries) > 100
    assert [msgid for msgid, msgstr, fuzzy, _ctx in entries if not msgstr or fuzzy] == []
    with translation.override("zh-hans"):
        stale = [
            msgid
            for msgid, msgstr, _fuzzy, context in entries
            if "%" not in msgid
            and "\n" not in msgid
            and (translation.pgettext(context, msgid) if context else translation.gettext(msgid))
            != msgstr
        ]
    assert stale == []
