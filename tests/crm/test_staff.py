"""Staff management: invitations, roles, deactivation; what each role may open."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm.models import AuditEntry
from tests.conftest import login
from tests.factories import StaffFactory

User = get_user_model()


@pytest.fixture
def as_admin_a(client_a, admin_a):
    login(client_a, "admin@alpha.test")
    return client_a


def test_agent_cannot_open_or_use_staff_management(client_a, agent_a, tenant_a, in_tenant):
    login(client_a, "agent@alpha.test")

    assert client_a.get("/staff/").status_code == 403
    assert (
        client_a.post("/staff/invite/", {"email": "x@alpha.test", "role": "admin"}).status_code
        == 403
    )
    with in_tenant(tenant_a):
        assert not User.objects.filter(email="x@alpha.test").exists()


def test_agent_navigation_has_no_staff_link(client_a, agent_a):
    login(client_a, "agent@alpha.test")

    page = client_a.get("/").content.decode()

    assert 'href="/staff/"' not in page


def test_admin_invites_staff_who_sets_a_password_and_signs_in(
    as_admin_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_admin_a.post(
            "/staff/invite/",
            {"email": "Nurse@Alpha.test", "full_name": "Li Na", "role": "clinician"},
        )

    assert response.status_code == 302
    with in_tenant(tenant_a):
        nurse = User.objects.get(email="nurse@alpha.test")
        assert list(nurse.groups.values_list("name", flat=True)) == ["clinician"]
        assert not nurse.has_usable_password()
        invited = AuditEntry.objects.get(action="staff_invited", object_id=str(nurse.pk))
        assert invited.actor.email == "admin@alpha.test"
    assert mail.outbox[-1].to == ["nurse@alpha.test"]
    link = re.search(r"https?://\S+/accounts/reset/\S+/", mail.outbox[-1].body).group(0)
    path = link.split("alpha.localhost", 1)[1]
    as_admin_a.logout()
    form_page = as_admin_a.get(path, follow=True)
    as_admin_a.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-long-secret-42", "new_password2": "a-long-secret-42"},
    )
    assert login(as_admin_a, "nurse@alpha.test", "a-long-secret-42").status_code == 302


def test_inviting_an_existing_address_is_refused_and_changes_nothing(
    as_admin_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        before = User.objects.count()

    response = as_admin_a.post("/staff/invite/", {"email": "admin@alpha.test", "role": "agent"})

    assert response.status_code == 200
    assert (
        "A staff member with this email address already exists." in response.content.decode()
        or ("已存在" in response.content.decode())
    )
    with in_tenant(tenant_a):
        assert User.objects.count() == before


def test_inviting_a_bad_address_shows_the_error(as_admin_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        before = User.objects.count()

    response = as_admin_a.post("/staff/invite/", {"email": "not an email", "role": "agent"})

    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    with in_tenant(tenant_a):
        assert User.objects.count() == before


def test_admin_changes_a_role(as_admin_a, agent_a, tenant_a, in_tenant):
    response = as_admin_a.post(f"/staff/{agent_a.pk}/role/", {"role": "supervisor"})

    assert response.status_code == 302
    with in_tenant(tenant_a):
        assert list(agent_a.groups.values_list("name", flat=True)) == ["supervisor"]


def test_admin_deactivates_staff_who_then_cannot_sign_in(as_admin_a, agent_a, tenant_a, in_tenant):
    as_admin_a.post(f"/staff/{agent_a.pk}/deactivate/")

    with in_tenant(tenant_a):
        agent_a.refresh_from_db()
        assert not agent_a.is_active
    other = type(as_admin_a)(HTTP_HOST=tenant_a.primary_host)
    assert login(other, "agent@alpha.test").status_code == 200
    assert other.get("/").status_code == 302


def test_deactivated_staff_lose_their_open_session(client_a, agent_a, admin_a, tenant_a, in_tenant):
    login(client_a, "agent@alpha.test")
    with in_tenant(tenant_a):
        agent_a.is_active = False
        agent_a.save()

    assert client_a.get("/").status_code == 302


def test_admin_cannot_deactivate_themself(as_admin_a, admin_a, tenant_a, in_tenant):
    response = as_admin_a.post(f"/staff/{admin_a.pk}/deactivate/", follow=True)

    with in_tenant(tenant_a):
        admin_a.refresh_from_db()
        assert admin_a.is_active
    assert len(list(response.context["messages"])) == 1


def test_the_last_admin_cannot_be_demoted(client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        from tests.factories import StaffFactory

        User.objects.filter(groups__name="admin").update(is_active=False)
        boss = StaffFactory(email="boss2@alpha.test", role="admin")
        other_admin = StaffFactory(email="other@alpha.test", role="admin")
    login(client_a, "boss2@alpha.test")
    client_a.post(f"/staff/{other_admin.pk}/deactivate/")

    client_a.post(f"/staff/{boss.pk}/role/", {"role": "agent"})

    with in_tenant(tenant_a):
        assert list(boss.groups.values_list("name", flat=True)) == ["admin"]


def test_admin_of_b_cannot_touch_staff_of_a(client_b, admin_b, agent_a, tenant_a, in_tenant):
    login(client_b, "admin@beta.test")

    response = client_b.post(f"/staff/{agent_a.pk}/deactivate/")

    with in_tenant(tenant_a):
        agent_a.refresh_from_db()
        assert agent_a.is_active
    assert response.status_code in (302, 404)


def test_admin_resends_a_lost_invitation(
    as_admin_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        invited = StaffFactory(email="late@alpha.test", password=None, role="agent")
        invited.set_unusable_password()
        invited.save()

    with django_capture_on_commit_callbacks(execute=True):
        response = as_admin_a.post(f"/staff/{invited.pk}/resend/")

    assert response.status_code == 302
    assert mail.outbox[-1].to == ["late@alpha.test"]
    assert "/accounts/reset/" in mail.outbox[-1].body


def test_resending_to_someone_with_a_password_is_refused(
    as_admin_a, agent_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_admin_a.post(f"/staff/{agent_a.pk}/resend/", follow=True)

    assert mail.outbox == []
    assert len(list(response.context["messages"])) == 1


def test_password_reset_mails_a_link_on_the_tenant_host(client_a, agent_a):
    response = client_a.post("/accounts/password_reset/", {"email": "agent@alpha.test"})

    assert response.status_code == 302
    assert mail.outbox[-1].to == ["agent@alpha.test"]
    assert "http://alpha.localhost/accounts/reset/" in mail.outbox[-1].body


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client_a):
    response = client_a.post("/accounts/password_reset/", {"email": "nobody@alpha.test"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []


def test_password_reset_of_a_user_of_a_sends_nothing_on_b(client_b, agent_a):
    client_b.post("/accounts/password_reset/", {"email": "agent@alpha.test"})

    assert mail.outbox == []


# --- Two-step sign-in: an administrator resets a lost phone ---------------------------------


def test_admin_resets_the_two_step_sign_in_of_a_supervisor_who_enrols_again(
    as_admin_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        supervisor = StaffFactory(email="sup@alpha.test", role="supervisor")
    assert "sup@alpha.test" in as_admin_a.get("/staff/").content.decode()

    response = as_admin_a.post(f"/staff/{supervisor.pk}/two-step-reset/")

    assert response["Location"] == "/staff/"
    with in_tenant(tenant_a):
        assert not TOTPDevice.objects.filter(user=supervisor).exists()
        assert not StaticDevice.objects.filter(user=supervisor).exists()
        reset = AuditEntry.objects.get(action="two_step_reset")
        assert (reset.actor.email, reset.object_id) == ("admin@alpha.test", str(supervisor.pk))
    other = Client(HTTP_HOST=tenant_a.primary_host)
    signed = login(other, "sup@alpha.test")
    assert signed["Location"] == "/"
    assert other.get("/")["Location"] == "/accounts/two-step/setup/?next=%2F"


def test_a_reset_ends_the_second_step_of_an_open_session(as_admin_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        supervisor = StaffFactory(email="sup@alpha.test", role="supervisor")
    session = Client(HTTP_HOST=tenant_a.primary_host)
    login(session, "sup@alpha.test")
    assert session.get("/").status_code == 200

    as_admin_a.post(f"/staff/{supervisor.pk}/two-step-reset/")

    assert session.get("/")["Location"].startswith("/accounts/two-step/setup/")


def test_admin_cannot_reset_their_own_two_step_sign_in(as_admin_a, admin_a, tenant_a, in_tenant):
    response = as_admin_a.post(f"/staff/{admin_a.pk}/two-step-reset/", follow=True)

    assert response.status_code == 200
    with in_tenant(tenant_a):
        assert TOTPDevice.objects.filter(user=admin_a).exists()


def test_a_supervisor_cannot_reset_anyones_two_step_sign_in(client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        StaffFactory(email="sup@alpha.test", role="supervisor")
        other = StaffFactory(email="sup2@alpha.test", role="supervisor")
    login(client_a, "sup@alpha.test")

    response = client_a.post(f"/staff/{other.pk}/two-step-reset/")

    assert response.status_code == 403
    with in_tenant(tenant_a):
        assert TOTPDevice.objects.filter(user=other).exists()


def test_admin_of_b_cannot_reset_two_step_sign_in_on_a(client_b, admin_b, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        supervisor = StaffFactory(email="sup@alpha.test", role="supervisor")
        devices_before = list(TOTPDevice.objects.values_list("pk", "user_id"))
    login(client_b, "admin@beta.test")

    client_b.post(f"/staff/{supervisor.pk}/two-step-reset/")

    with in_tenant(tenant_a):
        assert list(TOTPDevice.objects.values_list("pk", "user_id")) == devices_before
