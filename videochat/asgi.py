"""ASGI entry point: Daphne serves HTTP and websockets from here."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videochat.settings")

from videochat import serving

# Daphne would otherwise read any body whole, with no cap and no deadline, then
# hold it in memory several times over (videochat/serving.py).
serving.install()

from django.conf import settings  # noqa: E402

# Under ASGI every request runs its database work on a fresh thread, so a kept
# connection is never reused and only piles up (Django's docs advise this too).
for _database in settings.DATABASES.values():
    _database["CONN_MAX_AGE"] = 0

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from core.origin import SameOriginValidator  # noqa: E402
from core.routing import websocket_urlpatterns  # noqa: E402
from core.ws_auth import TokenAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Scheme, host and port of the Origin, not only its host (core/origin.py).
        "websocket": SameOriginValidator(TokenAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
