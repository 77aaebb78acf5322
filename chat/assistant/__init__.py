"""Assistant providers: the conversation in, the reply out as text chunks.

``get_provider()`` picks the one named by ``settings.ASSISTANT_PROVIDER``.
Django is imported only there, so providers stay plain Python.
"""

from __future__ import annotations

from chat.assistant.base import Provider, ProviderError, Turn, VideoFacts
from chat.assistant.gemini import GeminiProvider
from chat.assistant.local import LocalProvider

__all__ = ["PROVIDERS", "Provider", "ProviderError", "Turn", "VideoFacts", "get_provider"]

PROVIDERS: dict[str, type[Provider]] = {
    LocalProvider.name: LocalProvider,
    GeminiProvider.name: GeminiProvider,
}


def get_provider(name: str | None = None) -> Provider:
    """The provider called ``name``, by default the one the settings choose.

    Raises ``ValueError`` for a name no provider has.
    """
    if name is None:
        from django.conf import settings

        name = settings.ASSISTANT_PROVIDER
    try:
        provider_class = PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ValueError(f"Unknown assistant provider {name!r} (known: {known})") from None
    return provider_class()
