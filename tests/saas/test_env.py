"""Settings read from the environment, or from files named by ``*_FILE`` (mounted secrets)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from saas.env import env_choice, env_str


def test_a_secret_is_read_from_the_file_its_file_variable_names(tmp_path, monkeypatch):
    secret = tmp_path / "secret_key"
    secret.write_text("s3cr3t-from-a-mounted-file\n", encoding="utf-8")
    monkeypatch.delenv("CB_PROBE_KEY", raising=False)
    monkeypatch.setenv("CB_PROBE_KEY_FILE", str(secret))

    assert env_str("CB_PROBE_KEY") == "s3cr3t-from-a-mounted-file"
    monkeypatch.setenv("CB_PROBE_KEY", "from-the-environment")
    assert env_str("CB_PROBE_KEY") == "from-the-environment"  # the variable itself wins


def test_a_missing_secret_file_stops_start_up_with_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.delenv("CB_PROBE_KEY", raising=False)
    monkeypatch.setenv("CB_PROBE_KEY_FILE", str(tmp_path / "absent"))

    with pytest.raises(ImproperlyConfigured, match=r"CB_PROBE_KEY_FILE=.*absent: No such file"):
        env_str("CB_PROBE_KEY", "default")


def test_a_required_variable_and_a_bad_choice_are_refused(monkeypatch):
    monkeypatch.delenv("CB_PROBE_KEY", raising=False)
    monkeypatch.delenv("CB_PROBE_KEY_FILE", raising=False)
    monkeypatch.setenv("CB_PROBE_FORMAT", "xml")

    with pytest.raises(ImproperlyConfigured, match="Environment variable CB_PROBE_KEY is required"):
        env_str("CB_PROBE_KEY")
    with pytest.raises(ImproperlyConfigured, match="CB_PROBE_FORMAT must be one of plain, json"):
        env_choice("CB_PROBE_FORMAT", "plain", ("plain", "json"))


def test_a_file_email_url_keeps_its_absolute_path():
    from saas.env import mailers_from_url

    mailer = mailers_from_url("file:///var/spool/carebridge/mail")["default"]

    assert mailer["OPTIONS"]["file_path"] == "/var/spool/carebridge/mail"
