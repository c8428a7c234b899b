"""Tracked article links for messages and the call page.

A link is /health/e/<token>/ on the tenant's own domain. The token is signed and carries ids
only (article, rule, step), never a contact, task or phone number; its signature is salted
with the tenant's schema, so a token made for one clinic is refused by every other."""

from django.core import signing
from django.db import connection
from django.urls import reverse
from wagtail.models import Site


def _signer() -> signing.Signer:
    return signing.Signer(salt=f"cms.article-link:{connection.schema_name}")


def _base36(n: int | None) -> str:
    if not n:
        return "0"
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out


def link_token(*, article_id: int, rule_id: int | None, step_id: int | None) -> str:
    payload = "-".join(_base36(i) for i in (article_id, rule_id, step_id))
    return _signer().sign(payload)


def link_token_read(token: str) -> tuple[int, int | None, int | None] | None:
    """(article id, rule id, step id) of a valid token, else None."""
    try:
        payload = _signer().unsign(token)
        article_id, rule_id, step_id = (int(part, 36) for part in payload.split("-"))
    except (signing.BadSignature, ValueError):
        return None
    return article_id, rule_id or None, step_id or None


def site_root_url() -> str:
    """The tenant's own address, as its Wagtail Site says (set at provisioning)."""
    site = Site.objects.filter(is_default_site=True).first()
    return site.root_url if site else ""


def tracked_url(*, article, rule_id: int | None, step_id: int | None) -> str:
    token = link_token(article_id=article.pk, rule_id=rule_id, step_id=step_id)
    return site_root_url() + reverse("cms_article_link", args=[token])
