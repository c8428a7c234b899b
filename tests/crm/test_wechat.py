"""WeChat Official Account: connecting it ("send a test"), mapping templates, linking a
contact through the consent and QR code of the survey's thank-you page or a printed slip,
the signed callback (forgeries refused, replays no-ops, unfollows), and isolation between
clinics. Real HTTP to a fake WeChat API on 127.0.0.1 (tests/fake_wechat.py)."""

import hashlib
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import xmltodict
from django.utils import timezone, translation
from wechatpy.crypto import WeChatCrypto

from crm.models import (
    AuditEntry,
    FollowUpRule,
    FollowUpTask,
    Message,
    WeChatAccount,
    WeChatEvent,
    WeChatLink,
    WeChatLinkToken,
)
from crm.models.wechat import WeChatTemplate
from crm.services import outbox
from crm.services.followup import followup_tick
from crm.services.planning import encounters_plan
from crm.services.wechat import (
    wechat_account_save,
    wechat_event_receive,
    wechat_link_offer,
    wechat_template_save,
)
from surveys.links import invitation_create
from surveys.models import SurveyInvitation
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.factories import ContactFactory, EncounterFactory, RuleFactory
from tests.fake_sms import FakeSms
from tests.fake_wechat import APP_ID, APP_SECRET, TOKEN, FakeWeChat, event_xml, signed_query
from tests.surveys.conftest import STANDARD, survey_with

VALID = {"q_q1": "5", "q_q2": "4", "q_q3": "9", "q_q4": "良好", "q_q6": ""}
OPENID = "oABCD1234567890patientWang"


@pytest.fixture
def fake_wechat(settings):
    fake = FakeWeChat()
    settings.WECHAT_API_BASE = fake.base
    yield fake
    fake.close()


@pytest.fixture
def wechat_a(tenant_a, in_tenant, fake_wechat) -> WeChatAccount:
    with in_tenant(tenant_a):
        return wechat_account_save(app_id=APP_ID, app_secret=APP_SECRET, token=TOKEN, actor=None)


@pytest.fixture
def wechat_b(tenant_b, in_tenant, fake_wechat) -> WeChatAccount:
    with in_tenant(tenant_b):
        return wechat_account_save(
            app_id="wxbbbbbbbbbbbbbbbb", app_secret="b" * 32, token="betaToken", actor=None
        )


@pytest.fixture
def admin_client_a(client_a, admin_a):
    login(client_a, "admin@alpha.test")
    return client_a


@pytest.fixture
def link(tenant_a, in_tenant):
    """(invitation, token) of a survey link sent to a patient."""
    with in_tenant(tenant_a):
        survey = survey_with(STANDARD)
        return invitation_create(survey, ContactFactory(name="王芳"))


def _push(client, account, xml: bytes, *, token: str = TOKEN, **query):
    params = {**signed_query(token), **query}
    return client.post(
        f"/hooks/wechat/{account.hook_secret}/?{urlencode(params)}",
        data=xml,
        content_type="text/xml",
    )


def _thank_you(client, token):
    assert client.post(f"/s/{token}/", VALID).status_code == 302
    return client.get(f"/s/{token}/?done=1")


# --- connecting ------------------------------------------------------------------------


def test_an_administrator_connects_the_account_and_the_secrets_are_never_shown_again(
    admin_client_a, tenant_a, in_tenant, fake_wechat
):
    page = admin_client_a.post(
        "/settings/wechat/",
        {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN, "encoding_aes_key": ""},
    )

    assert page.status_code == 302
    shown = admin_client_a.get("/settings/wechat/").content.decode()
    assert APP_ID in shown and APP_SECRET not in shown and TOKEN not in shown
    with in_tenant(tenant_a):
        account = WeChatAccount.objects.get()
        assert (account.app_secret, account.token) == (APP_SECRET, TOKEN)
        assert f"/hooks/wechat/{account.hook_secret}/" in shown
        entry = AuditEntry.objects.get(action=AuditEntry.Action.WECHAT_CONNECTED)
        assert entry.detail == {"changed": ["app_id", "app_secret", "token"]}


def test_send_a_test_gets_an_access_token(
    admin_client_a, wechat_a, fake_wechat, tenant_a, in_tenant
):
    in_english(admin_client_a)
    page = admin_client_a.post("/settings/wechat/test/", follow=True)

    assert "WeChat accepted the AppID and AppSecret." in page.content.decode()
    assert fake_wechat.token_requests == 1
    with in_tenant(tenant_a):
        assert WeChatAccount.objects.get().checked_at is not None


def test_a_wrong_appsecret_at_send_a_test_says_so_and_changes_nothing_else(
    admin_client_a, wechat_a, fake_wechat, tenant_a, in_tenant
):
    in_english(admin_client_a)
    saved = admin_client_a.post(
        "/settings/wechat/", {"app_id": APP_ID, "app_secret": "f" * 32, "token": ""}
    )
    assert saved.status_code == 302

    page = admin_client_a.post("/settings/wechat/test/", follow=True).content.decode()

    assert "The test failed: WeChat refused the AppSecret (40125 invalid appsecret" in page
    with in_tenant(tenant_a):
        account = WeChatAccount.objects.get()
        assert account.checked_at is None and account.token == TOKEN  # the Token was kept
        assert account.app_id == APP_ID


def test_credentials_of_the_wrong_shape_are_refused_and_nothing_is_saved(
    admin_client_a, tenant_a, in_tenant, fake_wechat
):
    in_english(admin_client_a)
    page = admin_client_a.post(
        "/settings/wechat/", {"app_id": "12345", "app_secret": "short", "token": TOKEN}
    )

    assert page.status_code == 400
    text = page.content.decode()
    assert "An AppID is wx followed by 16 letters and digits." in text
    assert "An AppSecret is 32 letters and digits." in text
    with in_tenant(tenant_a):
        assert not WeChatAccount.objects.exists()


def test_an_agent_cannot_open_the_wechat_page(client_a, agent_a, wechat_a):
    login(client_a, "agent@alpha.test")
    assert client_a.get("/settings/wechat/").status_code == 403
    assert client_a.post("/settings/wechat/test/").status_code == 403


# --- templates --------------------------------------------------------------------------


def test_a_template_mapping_is_checked_against_the_template_wechat_has(
    admin_client_a, wechat_a, tenant_a, in_tenant
):
    in_english(admin_client_a)
    good = "thing1 = clinic_name\nthing2 = contact_name\nthing3 = follow_up_name"
    saved = admin_client_a.post(
        "/settings/wechat/templates/survey/",
        {"survey-template_id": "TPL-SURVEY", "survey-data": good},
    )
    assert saved.status_code == 302

    missing_key = admin_client_a.post(
        "/settings/wechat/templates/follow_up/",
        {"follow_up-template_id": "TPL-FOLLOWUP", "follow_up-data": "thing1 = clinic_name"},
    )
    unknown_template = admin_client_a.post(
        "/settings/wechat/templates/follow_up/",
        {"follow_up-template_id": "TPL-NOPE", "follow_up-data": "thing1 = clinic_name"},
    )
    unknown_variable = admin_client_a.post(
        "/settings/wechat/templates/follow_up/",
        {"follow_up-template_id": "TPL-FOLLOWUP", "follow_up-data": "thing1 = patient_id_card"},
    )

    assert missing_key.status_code == 400
    assert "The template&#x27;s data keys are thing1, thing2, time3" in missing_key.content.decode()
    assert "has no template with the ID TPL-NOPE" in unknown_template.content.decode()
    assert "Not a message variable: patient_id_card." in unknown_variable.content.decode()
    with in_tenant(tenant_a):
        assert {t.purpose: t.data for t in WeChatTemplate.objects.all()} == {
            "survey": {
                "thing1": "clinic_name",
                "thing2": "contact_name",
                "thing3": "follow_up_name",
            }
        }


# --- linking through the thank-you page ----------------------------------------------------


def test_the_thank_you_page_links_wechat_after_consent(
    client_a, link, wechat_a, fake_wechat, tenant_a, in_tenant
):
    invitation, token = link
    thanks = _thank_you(client_a, token).content.decode()
    assert "通过微信接收回访" in thanks and 'name="consent"' in thanks  # zh-Hans: the contact's

    refused = client_a.post(f"/s/{token}/wechat/", {})
    assert refused.status_code == 400 and "请先勾选同意" in refused.content.decode()
    assert fake_wechat.qrcodes == []

    shown = client_a.post(f"/s/{token}/wechat/", {"consent": "yes"})
    assert shown.status_code == 200
    assert "<svg" in shown.content.decode() and "mp.weixin.qq.com" not in shown.content.decode()
    again = client_a.post(f"/s/{token}/wechat/", {"consent": "yes"})
    assert again.status_code == 200
    assert len(fake_wechat.qrcodes) == 1  # the same code again, not a new one each time
    scene = fake_wechat.qrcodes[0]["scene"]
    # A random one-time token: only its hash is kept, nothing of the patient is in it.
    with in_tenant(tenant_a):
        assert (
            WeChatLinkToken.objects.get().token_hash == hashlib.sha256(scene.encode()).hexdigest()
        )
    assert len(scene) == 32 and "王芳" not in scene

    fake_wechat.follow(OPENID)
    pushed = _push(client_a, wechat_a, event_xml(OPENID, "subscribe", event_key=f"qrscene_{scene}"))

    assert (pushed.status_code, pushed.content) == (200, b"success")
    with in_tenant(tenant_a):
        linked = WeChatLink.objects.get()
        assert (linked.contact_id, linked.openid, linked.following) == (
            invitation.contact_id,
            OPENID,
            True,
        )
        assert WeChatLinkToken.objects.get().used_at is not None
    # Linked now: the page offers nothing more.
    assert "通过微信接收回访" not in client_a.get(f"/s/{token}/?done=1").content.decode()


def test_the_thank_you_page_speaks_english_to_an_english_contact(
    client_a, link, wechat_a, tenant_a, in_tenant
):
    invitation, token = link
    with in_tenant(tenant_a):
        invitation.language = "en"
        invitation.save()

    page = _thank_you(client_a, token).content.decode()

    assert "Receive follow-ups in WeChat" in page
    assert "sends me follow-up messages and survey links in WeChat" in page


def test_an_unconnected_clinic_offers_no_wechat(client_a, link, fake_wechat):
    _invitation, token = link
    assert 'name="consent"' not in _thank_you(client_a, token).content.decode()
    assert client_a.post(f"/s/{token}/wechat/", {"consent": "yes"}).status_code == 200
    assert fake_wechat.qrcodes == []


def test_an_unanswered_link_cannot_ask_for_a_code(client_a, link, wechat_a, fake_wechat):
    _invitation, token = link
    page = client_a.post(f"/s/{token}/wechat/", {"consent": "yes"})
    assert page.status_code == 200 and fake_wechat.qrcodes == []


# --- the callback ------------------------------------------------------------------------


@pytest.fixture
def scene(tenant_a, in_tenant, wechat_a, fake_wechat):
    """The scene of a slip's QR code for a new contact, consent recorded by staff."""
    from crm.services.wechat import wechat_link_offer

    with in_tenant(tenant_a):
        contact = ContactFactory(name="李雷")
        wechat_link_offer(contact=contact, source=WeChatLinkToken.Source.SLIP)
    fake_wechat.follow(OPENID)
    return fake_wechat.qrcodes[-1]["scene"]


def test_the_url_check_answers_the_echostr_when_signed(client_a, wechat_a):
    params = {**signed_query(TOKEN), "echostr": "8412345678"}
    answered = client_a.get(f"/hooks/wechat/{wechat_a.hook_secret}/?{urlencode(params)}")
    forged = client_a.get(
        f"/hooks/wechat/{wechat_a.hook_secret}/?{urlencode({**params, 'nonce': '1'})}"
    )
    assert (answered.status_code, answered.content) == (200, b"8412345678")
    assert forged.status_code == 403


def test_a_forged_event_is_refused_and_links_nothing(
    client_a, wechat_a, scene, tenant_a, in_tenant
):
    xml = event_xml(OPENID, "subscribe", event_key=f"qrscene_{scene}")
    forged = _push(client_a, wechat_a, xml, token="notTheClinicsToken")

    assert forged.status_code == 403
    with in_tenant(tenant_a):
        assert not WeChatLink.objects.exists() and not WeChatEvent.objects.exists()


def test_a_replayed_event_is_a_no_op(client_a, wechat_a, scene, tenant_a, in_tenant):
    scanned = event_xml(OPENID, "SCAN", event_key=scene, created=1_800_000_000)
    left = event_xml(OPENID, "unsubscribe", created=1_800_000_100)
    assert _push(client_a, wechat_a, scanned).status_code == 200
    assert _push(client_a, wechat_a, left).status_code == 200

    # WeChat (or anyone who recorded it) sends the scan again: it must not re-follow.
    replayed = _push(client_a, wechat_a, scanned)

    assert (replayed.status_code, replayed.content) == (200, b"success")
    with in_tenant(tenant_a):
        link_row = WeChatLink.objects.get()
        assert link_row.following is False and link_row.unfollowed_at is not None
        assert WeChatEvent.objects.count() == 2


def test_unfollowing_and_following_again(client_a, wechat_a, scene, tenant_a, in_tenant):
    _push(client_a, wechat_a, event_xml(OPENID, "subscribe", event_key=f"qrscene_{scene}"))
    _push(client_a, wechat_a, event_xml(OPENID, "unsubscribe", created=1_800_000_100))
    with in_tenant(tenant_a):
        assert WeChatLink.objects.get().following is False

    _push(client_a, wechat_a, event_xml(OPENID, "subscribe", created=1_800_000_200))

    with in_tenant(tenant_a):
        assert WeChatLink.objects.get().following is True


def test_a_code_links_one_wechat_user_only(client_a, wechat_a, scene, tenant_a, in_tenant):
    _push(client_a, wechat_a, event_xml(OPENID, "subscribe", event_key=f"qrscene_{scene}"))

    # The slip passed on: someone else scans it.
    other = _push(client_a, wechat_a, event_xml("oOTHERuser", "SCAN", event_key=scene))

    assert other.status_code == 200
    with in_tenant(tenant_a):
        assert [link_row.openid for link_row in WeChatLink.objects.all()] == [OPENID]


def test_an_expired_code_links_nobody(client_a, wechat_a, scene, tenant_a, in_tenant, clock):
    clock.shift(31 * 86400)
    _push(client_a, wechat_a, event_xml(OPENID, "SCAN", event_key=scene))
    with in_tenant(tenant_a):
        assert not WeChatLink.objects.exists()


def test_an_encrypted_push_in_safe_mode_is_opened_with_the_clinics_key(
    client_a, wechat_a, scene, tenant_a, in_tenant
):
    aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    with in_tenant(tenant_a):
        wechat_account_save(app_id=APP_ID, encoding_aes_key=aes_key, actor=None)
    plain = event_xml(OPENID, "subscribe", event_key=f"qrscene_{scene}").decode()
    query = signed_query(TOKEN)
    sealed = WeChatCrypto(TOKEN, aes_key, APP_ID).encrypt_message(
        plain, query["nonce"], query["timestamp"]
    )
    # WeChat sends the ciphertext's signature in the query, beside the request's.
    msg_signature = xmltodict.parse(sealed)["xml"]["MsgSignature"]
    params = {**query, "encrypt_type": "aes", "msg_signature": msg_signature}

    pushed = client_a.post(
        f"/hooks/wechat/{wechat_a.hook_secret}/?{urlencode(params)}",
        data=sealed,
        content_type="text/xml",
    )

    assert pushed.status_code == 200
    with in_tenant(tenant_a):
        assert WeChatLink.objects.get().openid == OPENID


def test_a_body_that_is_not_a_push_is_refused(client_a, wechat_a, tenant_a, in_tenant):
    assert _push(client_a, wechat_a, b"<xml><broken").status_code == 400
    assert _push(client_a, wechat_a, b"not xml at all").status_code == 400
    with in_tenant(tenant_a):
        assert not WeChatEvent.objects.exists()


# --- the printed slip ------------------------------------------------------------------


def test_staff_record_the_consent_before_a_slip_is_made(
    admin_client_a, wechat_a, fake_wechat, tenant_a, in_tenant
):
    in_english(admin_client_a)
    with in_tenant(tenant_a):
        contact = ContactFactory(name="韩梅梅")
    url = f"/contacts/{contact.pk}/wechat-slip/"

    refused = admin_client_a.post(url, {})
    assert refused.status_code == 400 and "Tick the box once the patient has agreed." in (
        refused.content.decode()
    )
    assert fake_wechat.qrcodes == []

    slip = admin_client_a.post(url, {"consent": "yes"})

    assert slip.status_code == 200 and "<svg" in slip.content.decode()
    with in_tenant(tenant_a):
        token = WeChatLinkToken.objects.get()
        assert (token.contact_id, token.source) == (contact.pk, "slip")
        assert token.consent_by.email == "admin@alpha.test"
        assert AuditEntry.objects.filter(
            action=AuditEntry.Action.WECHAT_SLIP_MADE, contact=contact.pk
        ).exists()


# --- isolation between clinics ---------------------------------------------------------------


def test_another_clinics_hook_secret_cannot_link_or_read_this_clinics_contacts(
    client_a, client_b, wechat_a, wechat_b, scene, tenant_a, tenant_b, in_tenant
):
    # Clinic B's secret on clinic A's domain: not A's callback.
    xml = event_xml(OPENID, "subscribe", event_key=f"qrscene_{scene}")
    assert _push(client_a, wechat_b, xml, token="betaToken").status_code == 404
    # Clinic A's scene pushed to clinic B's own callback, signed with B's Token: unknown there.
    assert _push(client_b, wechat_b, xml, token="betaToken").status_code == 200
    # A's secret on B's domain.
    assert _push(client_b, wechat_a, xml).status_code == 404

    with in_tenant(tenant_a):
        assert not WeChatLink.objects.exists()
        assert WeChatLinkToken.objects.get().used_at is None
    with in_tenant(tenant_b):
        assert not WeChatLink.objects.exists()


def test_another_clinics_staff_cannot_make_a_slip_for_this_clinics_contact(
    client_b, admin_b, wechat_a, wechat_b, fake_wechat, tenant_a, tenant_b, in_tenant
):
    with in_tenant(tenant_a):
        contact = ContactFactory(name="李雷")
    with in_tenant(tenant_b):
        assert not ContactFactory._meta.model.objects.filter(pk=contact.pk).exists()
    login(client_b, "admin@beta.test")

    page = client_b.post(f"/contacts/{contact.pk}/wechat-slip/", {"consent": "yes"})

    assert page.status_code == 404 and fake_wechat.qrcodes == []
    with in_tenant(tenant_a):
        assert not WeChatLinkToken.objects.exists()


def test_an_event_received_twice_links_once(wechat_a, scene, tenant_a, in_tenant):
    xml = event_xml(OPENID, "subscribe", event_key=f"qrscene_{scene}", created=1_800_000_000)
    with in_tenant(tenant_a):
        assert wechat_event_receive(xml=xml) == "linked"
        assert wechat_event_receive(xml=xml) == "duplicate"
        assert WeChatLink.objects.count() == 1


# --- sending ---------------------------------------------------------------------------------


@pytest.fixture
def fake_sms(settings):
    fake = FakeSms()
    settings.SMS_API_BASE = fake.base
    settings.SMS_ACCOUNT_SID = fake.account_sid
    settings.SMS_AUTH_TOKEN = fake.auth_token
    settings.SMS_FROM = "+8610690000"
    yield fake
    fake.close()


@pytest.fixture
def mapped_a(wechat_a, tenant_a, in_tenant):
    """Alpha's account with a template for survey invitations and one for follow-ups, and
    message hours all day."""
    tenant_a.message_hours = [["00:00", "24:00"]]
    tenant_a.save()
    with in_tenant(tenant_a):
        wechat_template_save(
            account=wechat_a,
            purpose="survey",
            template_id="TPL-SURVEY",
            data={"thing1": "clinic_name", "thing2": "contact_name", "thing3": "follow_up_name"},
        )
        wechat_template_save(
            account=wechat_a,
            purpose="follow_up",
            template_id="TPL-FOLLOWUP",
            data={"thing1": "clinic_name", "thing2": "contact_name", "time3": "return_visit_date"},
        )
    return wechat_a


def _survey_follow_up(tenant_a, in_tenant, *, linked: bool, fake_wechat) -> FollowUpTask:
    """A survey-link follow-up due now for 王芳 (phone on file), linked to OPENID in WeChat
    when ``linked``."""
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        survey = survey_with(STANDARD)
        RuleFactory(
            steps=[{"offset_days": 0, "due_days": 3, "channel": "survey_link", "survey": survey}]
        )
        contact = ContactFactory(name="王芳", phone="+8613800138222")
        if linked:
            offer = wechat_link_offer(contact=contact, source=WeChatLinkToken.Source.SURVEY)
            assert offer.token.pk
            scene = fake_wechat.qrcodes[-1]["scene"]
            fake_wechat.follow(OPENID)
            xml = event_xml(OPENID, "subscribe", event_key=f"qrscene_{scene}")
            assert wechat_event_receive(xml=xml) == "linked"
        encounter = EncounterFactory(
            contact=contact, occurred_at=timezone.now() - timedelta(days=1)
        )
        encounters_plan([encounter.pk])
        return FollowUpTask.objects.get(encounter=encounter)


def _tick(tenant_a, in_tenant, capture):
    with in_tenant(tenant_a), capture(execute=True):
        return followup_tick().messages


def test_a_linked_patient_gets_the_survey_link_in_wechat_not_by_sms(
    mapped_a, fake_wechat, fake_sms, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    task = _survey_follow_up(tenant_a, in_tenant, linked=True, fake_wechat=fake_wechat)

    assert _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks) == 1

    assert fake_sms.sent == []
    [sent] = fake_wechat.sent
    assert (sent["touser"], sent["template_id"]) == (OPENID, "TPL-SURVEY")
    assert sent["data"]["thing1"] == {"value": "Alpha 人民医院"}
    assert sent["data"]["thing2"] == {"value": "王芳"}
    assert sent["client_msg_id"].startswith("alpha-")
    with in_tenant(tenant_a):
        message = Message.objects.get()
        assert (message.channel, message.status, message.to) == ("wechat", "sent", OPENID)
        assert message.provider_id == str(sent["msgid"]) and message.task_id == task.pk
        invitation = SurveyInvitation.objects.get()
        assert (invitation.channel, invitation.message_id) == ("wechat", message.pk)
    # The message opens the patient's own survey page.
    assert sent["url"].startswith(f"https://{tenant_a.primary_host}") and "/s/" in sent["url"]
    assert sent["url"] in message.body


def test_a_patient_who_unfollowed_gets_the_same_message_by_sms_at_once(
    mapped_a, fake_wechat, fake_sms, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    _survey_follow_up(tenant_a, in_tenant, linked=True, fake_wechat=fake_wechat)
    # Unfollowed in WeChat, and the push of it never reached us.
    fake_wechat.unfollow(OPENID)

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    assert fake_wechat.sent == [] and fake_wechat.send_requests == 1
    [sms] = fake_sms.sent
    assert sms["To"] == "+8613800138222" and "王芳" in sms["Body"]
    with in_tenant(tenant_a):
        message = Message.objects.get()  # the same message, not a second one
        assert (message.channel, message.status, message.to) == ("sms", "sent", "+8613800138222")
        assert message.last_error == ""  # sent: the error of the WeChat attempt is gone
        link_row = WeChatLink.objects.get()
        assert link_row.following is False and link_row.unfollowed_at is not None
        invitation = SurveyInvitation.objects.get()
        assert invitation.channel == "sms"
    assert f"https://{tenant_a.primary_host}/s/" in sms["Body"]


def test_after_an_unfollow_push_the_next_message_goes_by_sms_directly(
    mapped_a,
    fake_wechat,
    fake_sms,
    client_a,
    tenant_a,
    in_tenant,
    django_capture_on_commit_callbacks,
):
    _survey_follow_up(tenant_a, in_tenant, linked=True, fake_wechat=fake_wechat)
    _push(client_a, mapped_a, event_xml(OPENID, "unsubscribe", created=1_800_000_100))

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    assert fake_wechat.send_requests == 0 and len(fake_sms.sent) == 1


def test_a_clinic_that_puts_sms_first_sends_by_sms(
    mapped_a, fake_wechat, fake_sms, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    tenant_a.channel_order = "sms,wechat,email"
    tenant_a.save()
    _survey_follow_up(tenant_a, in_tenant, linked=True, fake_wechat=fake_wechat)

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    assert fake_wechat.send_requests == 0 and len(fake_sms.sent) == 1


def test_an_expired_access_token_is_refreshed_and_the_message_sent(
    mapped_a, fake_wechat, fake_sms, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    _survey_follow_up(tenant_a, in_tenant, linked=True, fake_wechat=fake_wechat)
    fake_wechat.expire_tokens()
    before = fake_wechat.token_requests

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    assert len(fake_wechat.sent) == 1 and fake_wechat.token_requests == before + 1
    with in_tenant(tenant_a):
        assert Message.objects.get().status == "sent"


def test_wechat_busy_is_retried_later_and_sent_once(
    mapped_a,
    fake_wechat,
    fake_sms,
    tenant_a,
    in_tenant,
    clock,
    django_capture_on_commit_callbacks,
):
    _survey_follow_up(tenant_a, in_tenant, linked=True, fake_wechat=fake_wechat)
    fake_wechat.script = [-1]

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    with in_tenant(tenant_a):
        message = Message.objects.get()
        assert (message.status, message.channel) == ("queued", "wechat")
        assert message.last_error.startswith("WeChat -1 scripted")
    clock.shift(5 * 60)
    with in_tenant(tenant_a):
        assert outbox.messages_send(outbox.outbox_due()) == {message.pk: "sent"}
    assert len(fake_wechat.sent) == 1 and fake_sms.sent == []


def test_a_template_wechat_no_longer_has_fails_with_the_reason(
    mapped_a, fake_wechat, fake_sms, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    tenant_a.locale = "en"  # the worker writes the reason in the clinic's language
    tenant_a.save()
    _survey_follow_up(tenant_a, in_tenant, linked=True, fake_wechat=fake_wechat)
    del fake_wechat.templates["TPL-SURVEY"]  # deleted in the Official Account's console

    with translation.override("zh-hans"):
        _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    assert fake_wechat.sent == [] and fake_sms.sent == []
    with in_tenant(tenant_a):
        message = Message.objects.get()
        assert message.status == "failed"
        assert message.last_error.startswith("WeChat does not know this template ID (WeChat 40037")


def test_the_template_report_marks_the_message_delivered(
    mapped_a,
    fake_wechat,
    fake_sms,
    client_a,
    tenant_a,
    in_tenant,
    django_capture_on_commit_callbacks,
):
    _survey_follow_up(tenant_a, in_tenant, linked=True, fake_wechat=fake_wechat)
    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)
    msgid = fake_wechat.sent[0]["msgid"]
    report = event_xml(
        OPENID,
        "TEMPLATESENDJOBFINISH",
        extra=f"<MsgID>{msgid}</MsgID><Status><![CDATA[success]]></Status>",
    )

    assert _push(client_a, mapped_a, report).status_code == 200
    assert _push(client_a, mapped_a, report).status_code == 200  # again: once

    with in_tenant(tenant_a):
        assert Message.objects.get().status == "delivered"
