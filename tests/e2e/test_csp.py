"""The Content-Security-Policy in a real browser: every page an administrator reaches from
the menu, Wagtail's admin and the patient site load without one refused script, style or
request, and a script injected into a page does not run."""

import pytest

from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

WAGTAIL_PAGES = ["/cms/admin/", "/cms/admin/pages/", "/cms/admin/images/", "/cms/admin/documents/"]


def _refusals(page) -> list[str]:
    """Collect what the browser refused under the policy, as the page reports it."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return refused


def test_every_menu_page_wagtail_and_the_patient_site_load_without_a_refusal(page, tenant_url):
    refused = _refusals(page)
    sign_in(page, tenant_url("alpha", "/accounts/login/"), "e2e-admin@alpha.test")
    links = page.eval_on_selector_all(
        "nav a[href^='/']", "links => links.map(link => link.getAttribute('href'))"
    )
    assert len(links) >= 10, links

    for path in [*dict.fromkeys(links), *WAGTAIL_PAGES, "/api/v1/docs", "/health/"]:
        response = page.goto(tenant_url("alpha", path))
        page.wait_for_load_state("load")
        assert response.status == 200, path
        assert "content-security-policy" in response.headers, path
    article = page.locator("main a[href^='/health/']").first
    article.click()
    page.wait_for_load_state("load")

    assert refused == []


def test_a_script_injected_into_a_page_does_not_run(page, tenant_url):
    refused = _refusals(page)
    sign_in(page, tenant_url("alpha", "/accounts/login/"), "e2e-admin@alpha.test")

    ran = page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.appendChild(script);
            const button = document.createElement("button");
            button.setAttribute("onclick", "window.clicked = true");
            document.body.appendChild(button);
            button.click();
            return [window.injected === true, window.clicked === true];
        }"""
    )

    assert ran == [False, False]
    assert len(refused) == 2
