"""VideoChat settings: one file, read from the environment (and `.env`).

Every variable is listed with its default in the README. A malformed value
stops start-up with an ImproperlyConfigured naming the variable.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlparse

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from videochat import supabase_db
from videochat.env import env_bool, env_choice, env_float, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent

# A .env file fills in what the real environment does not set.
load_dotenv(BASE_DIR / ".env", override=False)

VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY", aliases=("SESSION_SECRET_KEY",))
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY (or SESSION_SECRET_KEY) must be set when DEBUG is off; "
            "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    # Development only: a random key kept under var/ so sessions survive restarts.
    path = VAR_DIR / "dev-secret-key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entries must start with http:// or https://, got {_origin!r}"
        )

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "django_rq",
    "template_partials",
    "csp",
    "ninja",
    "corsheaders",
    "accounts",
    "analysis",
    "chat",
    "ops",
    "api",
]

# Other front ends may call the JSON API (/api/) from these origins, and only it;
# none by default. Tokens, not cookies, authenticate them: no credentials are allowed.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
for _origin in CORS_ALLOWED_ORIGINS:
    if not _origin.startswith(("http://", "https://")) or "/" in _origin.split("://", 1)[1]:
        raise ImproperlyConfigured(
            "CORS_ALLOWED_ORIGINS entries must be origins like https://app.example.com "
            f"(a scheme and a host, no path), got {_origin!r}"
        )
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False

# OutageMiddleware answers 503 when Redis or the database is down. It sits outside
# everything that touches them (sessions, auth, the views) and inside the two that
# do not, so its answers get the security headers (core/outages.py).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything that may answer (an outage's 503 too): only /api/, and only when
    # CORS_ALLOWED_ORIGINS names origins.
    "corsheaders.middleware.CorsMiddleware",
    "core.outages.OutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Innermost, so its answers pass through every other middleware on the way out.
    "core.bodies.BodyRefusalMiddleware",
]
# Seconds an outage's 503 asks clients to wait before trying again (its Retry-After).
OUTAGE_RETRY_AFTER = env_int("OUTAGE_RETRY_AFTER", 30, minimum=1)

ROOT_URLCONF = "videochat.urls"
WSGI_APPLICATION = "videochat.wsgi.application"
ASGI_APPLICATION = "videochat.asgi.application"

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
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# --- Database -------------------------------------------------------------

DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'videochat.sqlite3'}",
    schemes=("sqlite", "postgres", "postgresql", "pgsql"),
)
# Supabase: sslmode, the transaction pooler (port 6543 or DATABASE_POOLER) and the
# route migrations take are worked out in videochat/supabase_db.py; docs/supabase.md.
DATABASE_POOLER = env_choice("DATABASE_POOLER", "auto", supabase_db.POOLER_CHOICES)
DATABASE_SSLMODE = env_str("DATABASE_SSLMODE")
DATABASES = {
    "default": supabase_db.database_settings(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        pooler=DATABASE_POOLER,
        sslmode=DATABASE_SSLMODE,
    )
}
# How `manage.py migrate` reaches the same database instead (None: the same way).
MIGRATION_DATABASE = supabase_db.migration_settings(
    DATABASES["default"],
    migration_url=env_url("MIGRATION_DATABASE_URL", None, schemes=("postgres", "postgresql", "pgsql")),
    pooler=DATABASE_POOLER,
    sslmode=DATABASE_SSLMODE,
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The worker and the web server write concurrently: wait for the lock
    # instead of failing, and let readers run beside the writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests that start a server or worker in a subprocess need a file they share.
    DATABASES["default"]["TEST"] = {"NAME": env_str("SQLITE_TEST_NAME", str(VAR_DIR / "test.sqlite3"))}
    if DATABASES["default"]["NAME"] != ":memory:":
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Redis: cache, sessions, channel layer, queue -------------------------

REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss", "unix"))

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "vc",
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    }
}

# The cache store, except that a Redis that cannot be reached is a 503, not a logout.
SESSION_ENGINE = "core.sessions"
SESSION_CACHE_ALIAS = "default"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 24 * 14, minimum=60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = not DEBUG
CSRF_FAILURE_VIEW = "core.views.csrf_failure"

# Each open websocket waits for its next push with a blocking Redis read of up to
# 5 s (channels_redis's brpop_timeout). redis-py 8's default socket timeout is
# also 5 s, so an idle socket's read raced it and Daphne closed the socket with
# 1011. socket_timeout stays well above that wait (it only catches a Redis that
# stopped answering); health_check_interval pings a connection idle that long
# before reusing it. capacity: messages a channel holds for a consumer slow for a
# moment; a streamed reply is many chunks, and past the default 100 they are dropped.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": 30,
                    "socket_connect_timeout": 5,
                    "health_check_interval": 15,
                }
            ],
            "prefix": "vc:asgi",
            "capacity": 1000,
        },
    }
}

RQ_JOB_TIMEOUT = env_int("RQ_JOB_TIMEOUT", 60 * 60, minimum=10)
# How often one of the workers looks for lost or stalled work, busy or idle (videochat/worker.py).
QUEUE_MAINTENANCE_SECONDS = env_int("QUEUE_MAINTENANCE_SECONDS", 30, minimum=2)
RQ_QUEUES = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": RQ_JOB_TIMEOUT} for name in ("high", "default", "low")
}
RQ_SHOW_ADMIN_LINK = True
# We enqueue in transaction.on_commit ourselves, so django-rq enqueues at once when asked.
RQ = {"WORKER_CLASS": "videochat.worker.Worker", "COMMIT_MODE": "auto"}

# --- Authentication -------------------------------------------------------

AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Rate limits ("count/period", period one of s, m, h, d), kept in the Redis cache.
RATELIMIT_USE_CACHE = "default"
RATELIMIT_LOGIN_IP = env_str("RATELIMIT_LOGIN_IP", "20/m")
RATELIMIT_LOGIN_EMAIL = env_str("RATELIMIT_LOGIN_EMAIL", "5/m")
RATELIMIT_SIGNUP_IP = env_str("RATELIMIT_SIGNUP_IP", "10/h")

# --- Security -------------------------------------------------------------

# Behind a TLS-terminating proxy, set SECURE_PROXY_SSL_HEADER=true so Django
# trusts its X-Forwarded-Proto header. Never set it without such a proxy.
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 60 * 60 * 24 * 365, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# No inline script or style anywhere; htmx is told (in base.html) not to inject
# its indicator style and never to eval.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "media-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Static and media -----------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Media is private: it is served by views that check the owner, never by URL.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Where media lives: this machine's disk (MEDIA_ROOT), or a private Supabase Storage
# bucket that web and workers on several machines share (docs/supabase.md).
MEDIA_STORAGE = env_choice("MEDIA_STORAGE", "local", ("local", "supabase"))
SUPABASE_STORAGE_BUCKET = env_str("SUPABASE_STORAGE_BUCKET", "videochat-media")
# The media views send the owner to a signed URL valid this long. A player keeps
# seeking within the URL it was given, so it should outlast watching one video.
SUPABASE_SIGNED_URL_SECONDS = env_int("SUPABASE_SIGNED_URL_SECONDS", 3600, minimum=10)
if MEDIA_STORAGE == "supabase":
    STORAGES["default"] = {"BACKEND": "core.storage.SupabaseStorage"}

# --- Videos ---------------------------------------------------------------

MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 500, minimum=1)
MAX_FILES_PER_UPLOAD = env_int("MAX_FILES_PER_UPLOAD", 10, minimum=1)
# Request bodies and uploaded files above this size go to disk, never whole into
# memory. Not 0: under ASGI Django spools the body in a SpooledTemporaryFile of
# this max_size, and 0 there means "never roll over to disk".
FILE_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
# The upload view counts files itself and names the ones it left out; Django's
# own cap (a bare 400) only stops absurd requests.
DATA_UPLOAD_MAX_NUMBER_FILES = MAX_FILES_PER_UPLOAD + 100
FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "uploads")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
# What a request body may be, enforced by the server before it reads one
# (videochat/serving.py): uploads take MAX_FILES_PER_UPLOAD files of MAX_UPLOAD_MB,
# every other request this much. A body that stops arriving for
# REQUEST_BODY_TIMEOUT seconds is dropped.
REQUEST_BODY_MAX_KB = env_int("REQUEST_BODY_MAX_KB", 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_KB * 1024
REQUEST_BODY_TIMEOUT = env_int("REQUEST_BODY_TIMEOUT", 30, minimum=1)
# A job that has not shown a sign of life for this long has lost its worker.
ANALYSIS_STALE_SECONDS = env_int("ANALYSIS_STALE_SECONDS", 60, minimum=2)
ANALYSIS_MAX_ATTEMPTS = env_int("ANALYSIS_MAX_ATTEMPTS", 4, minimum=1)
# Offline speech-to-text (Whisper tiny.en, English only) as a stage of the local analysis.
TRANSCRIBE_SPEECH = env_bool("TRANSCRIBE_SPEECH", True)
# Read the text shown on screen (slides, captions, titles) as part of the analysis.
ONSCREEN_TEXT = env_bool("ONSCREEN_TEXT", True)
RATELIMIT_UPLOAD_USER = env_str("RATELIMIT_UPLOAD_USER", "30/h")
RATELIMIT_REANALYSE_USER = env_str("RATELIMIT_REANALYSE_USER", "20/h")
RATELIMIT_SEARCH_USER = env_str("RATELIMIT_SEARCH_USER", "60/m")
# Clips (issue 18): the longest clip one request may ask for, and how many clips a user may ask for.
CLIP_MAX_SECONDS = env_int("CLIP_MAX_SECONDS", 300, minimum=1)
CLIP_MAX_ATTEMPTS = env_int("CLIP_MAX_ATTEMPTS", 3, minimum=1)
RATELIMIT_CLIP_USER = env_str("RATELIMIT_CLIP_USER", "20/h")

# --- Chat -----------------------------------------------------------------

CHAT_MAX_MESSAGE_CHARS = env_int("CHAT_MAX_MESSAGE_CHARS", 4000, minimum=1)
CHAT_MAX_ATTACHMENTS = env_int("CHAT_MAX_ATTACHMENTS", 5, minimum=1)
CHAT_PAGE_SIZE = env_int("CHAT_PAGE_SIZE", 30, minimum=1)
# A reply that has not moved for this long lost its worker.
CHAT_STALE_SECONDS = env_int("CHAT_STALE_SECONDS", 60, minimum=2)
RATELIMIT_CHAT_USER = env_str("RATELIMIT_CHAT_USER", "30/m")
RATELIMIT_CONVERSATION_USER = env_str("RATELIMIT_CONVERSATION_USER", "60/h")
CHAT_READ_CACHE = env_bool("CHAT_READ_CACHE", True)

# --- Integrations (used by later parts; read here so config lives in one place)


# Gemini (google-genai) is on when a key is set; see docs/gemini.md. Without a key
# everything runs on the local analyzer and the offline assistant.
GEMINI_API_KEY = env_str("GEMINI_API_KEY")
GEMINI_MODEL = env_str("GEMINI_MODEL", "gemini-3.8-flash")
# Another endpoint for the same API: a proxy, or the fake the tests start.
GEMINI_BASE_URL = env_url("GEMINI_BASE_URL", None, schemes=("https", "http"))
GEMINI_TIMEOUT_SECONDS = env_int("GEMINI_TIMEOUT_SECONDS", 180, minimum=1)
# Retries of a request answered 408, 429 or 5xx, or timed out: exponential backoff
# from GEMINI_RETRY_DELAY_SECONDS (doubling, plus up to as much again of jitter).
GEMINI_MAX_RETRIES = env_int("GEMINI_MAX_RETRIES", 3, minimum=0)
GEMINI_RETRY_DELAY_SECONDS = env_float("GEMINI_RETRY_DELAY_SECONDS", 1.0, minimum=0, maximum=60)
# How often to ask whether an uploaded video is processed, and for how long.
GEMINI_POLL_SECONDS = env_float("GEMINI_POLL_SECONDS", 2.0, minimum=0, maximum=60)
GEMINI_PROCESSING_TIMEOUT_SECONDS = env_int("GEMINI_PROCESSING_TIMEOUT_SECONDS", 900, minimum=1)
# Videos longer than this are sampled at GEMINI_LONG_VIDEO_FPS frames per second
# (the API's default is 1) and at GEMINI_MEDIA_RESOLUTION, to fit the model's context.
GEMINI_LONG_VIDEO_SECONDS = env_int("GEMINI_LONG_VIDEO_SECONDS", 30 * 60, minimum=1)
GEMINI_LONG_VIDEO_FPS = env_float("GEMINI_LONG_VIDEO_FPS", 0.5, minimum=0.01, maximum=24)
GEMINI_MEDIA_RESOLUTION = env_choice("GEMINI_MEDIA_RESOLUTION", "low", ("low", "medium", "high", "default"))
# Unset: the model's own default, which Google recommends for Gemini 3.
GEMINI_TEMPERATURE = env_float("GEMINI_TEMPERATURE", None, minimum=0, maximum=2)
ASSISTANT_PROVIDER = env_choice(
    "ASSISTANT_PROVIDER", "gemini" if GEMINI_API_KEY else "local", ("local", "gemini")
)
if ASSISTANT_PROVIDER == "gemini" and not GEMINI_API_KEY:
    raise ImproperlyConfigured("ASSISTANT_PROVIDER=gemini needs GEMINI_API_KEY")
SUPABASE_URL = env_url("SUPABASE_URL", None, schemes=("https", "http"))
SUPABASE_ANON_KEY = env_str("SUPABASE_ANON_KEY")
SUPABASE_SERVICE_ROLE_KEY = env_str("SUPABASE_SERVICE_ROLE_KEY")
if MEDIA_STORAGE == "supabase":
    if not SUPABASE_URL:
        raise ImproperlyConfigured("SUPABASE_URL must be set when MEDIA_STORAGE=supabase")
    if not SUPABASE_SERVICE_ROLE_KEY:
        raise ImproperlyConfigured("SUPABASE_SERVICE_ROLE_KEY must be set when MEDIA_STORAGE=supabase")
    # The media views redirect to Storage: pages may load pictures and video from there.
    _storage_origin = "{0.scheme}://{0.netloc}".format(urlparse(SUPABASE_URL))
    for _directive in ("img-src", "media-src"):
        CONTENT_SECURITY_POLICY["DIRECTIVES"][_directive].append(_storage_origin)

# --- Misc -----------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "WARNING"}},
}
