"""WeChat in a browser: on the survey's thank-you page a patient ticks the consent and gets
the QR code that links their WeChat, drawn by us (no request leaves the clinic's origin), in
zh-Hans and in English. In a clinic of its own, dropped afterwards."""

import pytest
from django_tenants.utils import tenant_context

from crm.services.wechat import wechat_account_save
from saas import clock
from surveys.links import invitation_create
from surveys.models import SurveyInvitation, SurveyTemplate
from tenants.services import tenant_provision
from tests.conftest import committed_tenant
from tests.factories import ContactFactory
from tests.fake_wechat import APP_ID, APP_SECRET, TOKEN, FakeWeChat

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-wechat"
TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 微信医院", slug=SLUG, kind="hospital", admin_email="admin@e2e-w.test"
        ).tenant
        with tenant_context(tenant):
            wechat_account_save(app_id=APP_ID, app_secret=APP_SECRET, token=TOKEN, actor=None)
            survey = SurveyTemplate.objects.get(name="住院患者满意度调查")
            for language, name in (("zh-hans", "王芳"), ("en", "Alice Wang")):
                contact = ContactFactory(name=name, language=language)
                invitation, token = invitation_create(survey, contact)
                # Answered a moment ago: the survey page itself is tested in test_surveys.
                SurveyInvitation.objects.filter(pk=invitation.pk).update(answered_at=clock.now())
                TOKENS[language] = token
        return tenant

    yield from committed_tenant(django_db_blocker, create)


@pytest.fixture
def fake_wechat(settings):
    fake = FakeWeChat()
    settings.WECHAT_API_BASE = fake.base
    yield fake
    fake.close()


@pytest.mark.parametrize(
    ("language", "heading", "refusal", "scan"),
    [
        ("zh-hans", "通过微信接收回访", "请先勾选同意。", "请用微信扫描此二维码"),
        ("en", "Receive follow-ups in WeChat", "Tick the box to agree first.", "Scan this code"),
    ],
)
def test_the_patient_consents_and_gets_the_qr_code(
    phone_page, clinic, fake_wechat, tenant_url, screenshot, language, heading, refusal, scan
):
    origin = tenant_url(SLUG, "")
    elsewhere = []
    phone_page.on(
        "request",
        lambda request: None if request.url.startswith(origin) else elsewhere.append(request.url),
    )
    phone_page.goto(tenant_url(SLUG, f"/s/{TOKENS[language]}/?done=1"))
    offer = phone_page.locator("#wechat-offer")
    assert heading in offer.inner_text()

    offer.locator("button").click()  # without the consent
    assert refusal in phone_page.locator("#wechat-offer").inner_text()
    assert fake_wechat.qrcodes == []

    phone_page.locator("#wechat-offer input[name=consent]").check()
    phone_page.locator("#wechat-offer button").click()

    qr = phone_page.locator("#wechat-offer .wechat-qr svg")
    assert qr.is_visible() and qr.bounding_box()["width"] > 150
    assert scan in phone_page.locator("#wechat-offer").inner_text()
    assert len(fake_wechat.qrcodes) == 1
    screenshot(phone_page, f"wechat-consent-{language}")
    assert elsewhere == []  # the QR code is ours: nothing from WeChat's servers
