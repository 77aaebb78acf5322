"""WSGI entry point (Daphne serves the ASGI app; this is for tooling that wants WSGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videochat.settings")
application = get_wsgi_application()
