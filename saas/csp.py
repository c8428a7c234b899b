"""Content-Security-Policy on every response (Django's middleware, settings.SECURE_CSP):
scripts and styles only from our own origin or carrying the request's nonce, no plugins, no
third-party origin but the video player clinics embed in health education. Wagtail's admin
renders inline styles and scripts of its own that carry no nonce, so its pages get the
looser settings.CSP_WAGTAIL_ADMIN, which still allows no other origin."""

from django.conf import settings
from django.middleware import csp


class ContentSecurityPolicyMiddleware(csp.ContentSecurityPolicyMiddleware):
    def process_response(self, request, response):
        if request.path.startswith(settings.WAGTAIL_ADMIN_PATH) and not hasattr(
            response, "_csp_config"
        ):
            response._csp_config = settings.CSP_WAGTAIL_ADMIN
        return super().process_response(request, response)
