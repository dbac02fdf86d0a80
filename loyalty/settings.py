"""Settings for the loyalty platform.

Every value comes from the environment (twelve-factor); the defaults make a
fresh checkout run on its own: an embedded PostgreSQL under var/, tasks
executed eagerly, mail printed to the console.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Used only on a developer machine; the deployment check below refuses it.
INSECURE_DEV_SECRET_KEY = "insecure-dev-key-change-me-0123456789abcdefghijklmnop"  # noqa: S105

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=INSECURE_DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

if not DEBUG and SECRET_KEY == INSECURE_DEV_SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set. Set a long random secret in the environment "
        "(or DJANGO_DEBUG=true for local development)."
    )

INSTALLED_APPS = [
    "staff.apps.AdminConfig",  # django.contrib.admin, signing in with the staff two-step sign-in
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # trigram search of members (pg_trgm), its indexes and lookups
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "loyalty",
    "programs",
    "members",
    "ledger",
    "tiers",
    "earning",
    "rewards",
    "notifications",
    "webhooks",
    "surveys",
    "analytics",
    "staff",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "loyalty.security.ContentSecurityPolicyMiddleware",
    # Turns a sign-in refused for too many failures into the lockout page; otherwise one attribute read.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "loyalty.urls"
WSGI_APPLICATION = "loyalty.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: PostgreSQL, always. DATABASE_URL names it; without one, the checkout's own embedded server
# under var/ (loyalty.embedded_postgres), so a newcomer needs only Python and runs the production engine.
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
else:
    from .embedded_postgres import embedded_database

    DATABASES = {"default": embedded_database(VAR_DIR)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must name a PostgreSQL database (postgres://...).")
DATABASES["default"]["ENGINE"] = "loyalty.postgresql"  # the same, with a health check that costs no query
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Server-side binding lets psycopg prepare a statement on its fifth run on a connection: PostgreSQL then
# skips parsing and planning it. Behind a transaction-mode pooler this needs PgBouncer 1.21+ with
# max_prepared_statements set, or DATABASE_PREPARED_STATEMENTS=false.
if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# A streaming replica for reports and exports (loyalty.replica): reads only, never migrated. Tests read it
# as the primary's mirror unless they start a replica of their own.
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db_url("DATABASE_REPLICA_URL")
    DATABASES["replica"].update(ENGINE="loyalty.postgresql", CONN_MAX_AGE=DATABASES["default"]["CONN_MAX_AGE"],
                                CONN_HEALTH_CHECKS=True, TEST={"MIRROR": "default"})
    DATABASE_ROUTERS = ["loyalty.replica.ReplicaRouter"]  # without a replica, no router is asked per query
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://loyalty")}
# How long a call to Redis (cache or broker) may wait to connect or for an answer: a Redis that hangs must
# hold a POS call up no longer than this (the call then goes on without it, see loyalty.cache).
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=1.0)
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "loyalty.cache.RedisCache"  # one client per pool, not one per call
    for option in ("socket_connect_timeout", "socket_timeout"):
        CACHES["default"].setdefault("OPTIONS", {}).setdefault(option, REDIS_TIMEOUT_SECONDS)
# POS key lookups are cached this many seconds (found keys only, under the key's digest; a revoked key
# or a deactivated store is forgotten at once). Only a cache every process shares can be told of a
# revocation, so the default is off with the per-process local-memory cache.
POS_KEY_CACHE_SECONDS = env.int(
    "POS_KEY_CACHE_SECONDS",
    default=0 if CACHES["default"]["BACKEND"].endswith(("LocMemCache", "DummyCache")) else 10,
)
# Answers to requests keyed by the client's Idempotency-Key (redemptions) are kept this long, then purged
# daily; the POS contract promises at least 24 hours. Purchases, returns and events are keyed by their
# external id and keep their answer for good.
IDEMPOTENCY_KEY_RETENTION_HOURS = env.int("IDEMPOTENCY_KEY_RETENTION_HOURS", default=7 * 24)
if IDEMPOTENCY_KEY_RETENTION_HOURS < 24:
    raise ImproperlyConfigured("IDEMPOTENCY_KEY_RETENTION_HOURS must be at least 24: POS clients may retry a "
                               "redemption with the same Idempotency-Key for 24 hours.")
# Each process keeps a program's earning rules, tier ladder and webhook subscriptions this long; a
# saved change is seen at once by the process that saved it and by every other within this bound.
PROGRAM_CONFIG_CACHE_SECONDS = env.int("PROGRAM_CONFIG_CACHE_SECONDS", default=5)

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    # Older hashes still verify, and are rehashed with Argon2 at the user's next sign-in.
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# Password guessing (django-axes): a sign-in is refused for 15 minutes once 10 have failed, counted
# apart per username and per client address, each failure within 15 minutes of the one before.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out sign-in before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_RESET_ON_SUCCESS = False  # a correct password does not wipe the count of guesses made from that address
AXES_VERBOSE = False  # no banner at every start; lockouts are still logged
# The client's address: REMOTE_ADDR, or behind DJANGO_TRUSTED_PROXY_COUNT reverse proxies the address the
# first of them saw (loyalty.security.client_address).
TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "loyalty.security.client_address"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
TIME_ZONE = "UTC"
USE_I18N = True
# The portal's German (locale/de): `manage.py makemessages -l de`, translate, then `manage.py compilemessages`;
# the .mo is committed, so an install needs no gettext tools.
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed, compressed file names need `collectstatic` to have run (the Docker image does it
# and sets DJANGO_STATIC_MANIFEST=true). Without it, WhiteNoise serves the files straight from
# the source folders, so a checkout runs with DEBUG off and nothing collected.
STATIC_MANIFEST = env.bool("DJANGO_STATIC_MANIFEST", default=False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=VAR_DIR / "media")
MEDIA_URL = "media/"

# Security. Plain HTTP on loopback must keep working with DEBUG off (integrators
# and acceptance tests run it so); TLS-only behaviour is switched on explicitly.
SECURE = env.bool("DJANGO_SECURE", default=False)
SECURE_SSL_REDIRECT = SECURE
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): the site's own scripts, styles and images only, nothing inline,
# never framed, forms post to the site only. The API docs add what Swagger UI needs (loyalty/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
SESSION_COOKIE_HTTPONLY = True

# Webhooks go to public internet addresses only (see webhooks.addresses); true lets them reach loopback
# and private networks, for a receiver inside the deployment's own network.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False)

# Mail: console by default so nothing leaves a developer machine.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Loyalty <loyalty@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where links in emails (unsubscribe) point: the site as members reach it.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# Celery: no broker configured means tasks run in-process, at once.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
# Beat: every time-driven job, in one place (times in CELERY_TIMEZONE). Each is idempotent and has a
# management command of the same work for operators.
CELERY_BEAT_SCHEDULE = {
    "release-pending-points": {"task": "ledger.tasks.release_points", "schedule": crontab(minute=5)},
    "expire-points": {"task": "ledger.tasks.expire_points", "schedule": crontab(hour=1, minute=15)},
    "expire-vouchers": {"task": "rewards.tasks.expire_vouchers", "schedule": crontab(hour=1, minute=30)},
    "birthday-bonuses": {"task": "earning.tasks.grant_birthday_bonuses", "schedule": crontab(hour=0, minute=10)},
    "recalculate-tiers": {"task": "loyalty.for_each_program", "args": ["tiers.tasks.tier_recalculate_program"],
                          "schedule": crontab(hour=2, minute=30)},
    "verify-ledger": {"task": "ledger.tasks.ledger_verify", "schedule": crontab(hour=4, minute=0)},
    # After midnight in every zone the programs use is still "yesterday" for some; rolling up yesterday and
    # today each night, the late hours of a western program's day are rolled up the night after.
    "roll-up-analytics": {"task": "loyalty.for_each_program", "args": ["analytics.tasks.rollup_program"],
                          "schedule": crontab(hour=0, minute=40)},
    "purge-idempotency-keys": {"task": "loyalty.tasks.purge_idempotency_keys", "schedule": crontab(hour=3, minute=45)},
    "send-expiry-warnings": {"task": "notifications.tasks.send_expiry_warnings",
                             "schedule": crontab(hour=9, minute=0)},
    # Sends normally leave right after commit; these sweeps retry failures, reclaim work from
    # dead workers and pick up anything whose after-commit send was lost.
    "send-due-emails": {"task": "notifications.tasks.send_due_emails", "schedule": 60.0},
    "deliver-due-webhooks": {"task": "webhooks.tasks.deliver_due_webhooks", "schedule": 60.0},
    "send-survey-invitations": {"task": "surveys.tasks.send_due_invitations", "schedule": crontab(minute="*/5")},
    "escalate-overdue-cases": {"task": "staff.tasks.escalate_overdue_cases", "schedule": crontab(minute=20)},
}

# Requests per POS key (programs.auth.PosKeyRateThrottle), e.g. "6000/min".
POS_RATE_LIMIT = env.str("POS_RATE_LIMIT", default="6000/min")

# Neutral defaults for any DRF view: a signed-in user, no rate limit. POS views take the key
# authentication, the per-key rate limit and the negotiation shortcut from programs.apis.PosApi.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["loyalty.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "loyalty.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "loyalty.problems.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "loyalty.schema.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty POS API",
    "DESCRIPTION": (
        "Point-of-sale integration API: enrol and look up members, post purchases and returns, "
        "redeem rewards, validate and use vouchers. Authenticate every call with "
        "`Authorization: Api-Key <key>`. Errors are `application/problem+json` (RFC 9457) "
        "carrying a machine-readable `code`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1/pos",
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKeyAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Api-Key <key>`",
            }
        }
    },
    "SECURITY": [{"ApiKeyAuth": []}],
}

LOGIN_URL = "staff:login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "embedded_postgres": {"level": "WARNING"},  # each start and stop of the local server is no news
    },
}
