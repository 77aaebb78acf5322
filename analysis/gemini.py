"""Gemini in the analysis job: the client built from settings, and the Gemini part of a run.

When ``GEMINI_API_KEY`` is set, the job runs the local analyzer (and the
transcription), then :func:`ask_gemini` (network only, no writes), then in one
transaction stores the local analysis and calls :meth:`GeminiOutcome.save`:
no database lock is held while Gemini thinks, and a half-stored run never shows.

Storage, with nothing added to the models: every run with Gemini on adds an
``Analysis`` row with ``analyzer="gemini"`` and ``analyzer_version`` the model,
stored just after the run's local row, so on the video page it is the first of
``analyses`` exactly when the local analysis shown has a Gemini part.

- Gemini answered: ``extra`` holds the answer (``summary``, ``topics``,
  ``key_moments``, ``transcript``, ``on_screen_text``, times in seconds, plus
  ``sampling`` and ``usage``) and ``extra["file"]``, the uploaded file's
  reference (name, uri, mime_type, expires_at), used again while Google keeps it.
- Gemini failed: ``extra == {"error": reason}``, a sentence the page shows as
  "Gemini analysis unavailable: ...". The video is done all the same: the
  local analysis stands.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from google import genai
from google.genai import types

from analysis.analyzers.gemini import ANALYZER_NAME, GeminiError, GeminiOptions, analyze_with_gemini, redact
from analysis.models import Analysis, Video

logger = logging.getLogger(__name__)

Progress = Callable[[int, str], None]

PROGRESS_FROM = 85
"""Where Gemini's stage starts on the progress bar (the local stages end here when it is on)."""
UNEXPECTED = "Gemini's part stopped on an unexpected error; the local analysis is complete."


class _RedactKey(logging.Filter):
    """Takes the API key out of the SDK's log lines (its retry lines quote the server's answer)."""

    def filter(self, record: logging.LogRecord) -> bool:
        key = settings.GEMINI_API_KEY
        if key and key in (message := record.getMessage()):
            record.msg, record.args = redact(message, key), ()
        return True


_REDACT_KEY = _RedactKey()
# The google-genai loggers that write what a request or its answer said.
SDK_LOGGERS = ("google_genai._api_client", "google_genai.models", "google_genai.files")


def _guard_sdk_logs() -> None:
    for name in SDK_LOGGERS:
        sdk_logger = logging.getLogger(name)
        if _REDACT_KEY not in sdk_logger.filters:
            sdk_logger.addFilter(_REDACT_KEY)


def enabled() -> bool:
    return bool(settings.GEMINI_API_KEY)


def make_client() -> genai.Client:
    """A client for the Gemini Developer API with the settings' endpoint, timeout and retries."""
    delay = settings.GEMINI_RETRY_DELAY_SECONDS
    http_options = types.HttpOptions(
        base_url=settings.GEMINI_BASE_URL or None,
        timeout=settings.GEMINI_TIMEOUT_SECONDS * 1000,
        retry_options=types.HttpRetryOptions(
            attempts=settings.GEMINI_MAX_RETRIES + 1,
            initial_delay=delay,
            max_delay=max(30.0, delay),
            exp_base=2,
            jitter=delay,
        ),
    )
    _guard_sdk_logs()
    return genai.Client(api_key=settings.GEMINI_API_KEY, vertexai=False, http_options=http_options)


def options() -> GeminiOptions:
    return GeminiOptions(
        model=settings.GEMINI_MODEL,
        attempts=settings.GEMINI_MAX_RETRIES + 1,
        timeout_seconds=settings.GEMINI_TIMEOUT_SECONDS,
        poll_seconds=settings.GEMINI_POLL_SECONDS,
        processing_timeout=settings.GEMINI_PROCESSING_TIMEOUT_SECONDS,
        long_video_seconds=settings.GEMINI_LONG_VIDEO_SECONDS,
        long_video_fps=settings.GEMINI_LONG_VIDEO_FPS,
        long_video_resolution=settings.GEMINI_MEDIA_RESOLUTION,
        temperature=settings.GEMINI_TEMPERATURE,
    )


def _gemini_progress(progress: Progress | None) -> Progress:
    # Gemini's 0-100 % maps to PROGRESS_FROM-99 %: the bar reaches 100 only when the video is done.
    if progress is None:
        return lambda percent, stage: None
    return lambda percent, stage: progress(PROGRESS_FROM + percent * (99 - PROGRESS_FROM) // 100, stage)


def previous_file(video: Video) -> dict | None:
    """The uploaded-file reference of the video's latest Gemini analysis, if any."""
    row = (
        video.analyses.filter(analyzer=ANALYZER_NAME, extra__has_key="file")
        .order_by("-created_at", "-id")
        .first()
    )
    return row.extra["file"] if row else None


def chat_extra(video: Video, local: Analysis | None) -> dict[str, Any]:
    """What the chat's Gemini assistant needs of the Gemini part of ``local`` (the analysis it reads).

    ``{"gemini": answer, "file": reference}``, ``{"gemini_error": reason}``, or
    ``{}`` when that run had no Gemini part.
    """
    if local is None:
        return {}
    row = (
        video.analyses.filter(analyzer=ANALYZER_NAME, created_at__gte=local.created_at)
        .order_by("-created_at", "-id")
        .first()
    )
    if row is None:
        return {}
    if "error" in row.extra:
        return {"gemini_error": row.extra["error"]}
    answer = {key: value for key, value in row.extra.items() if key != "file"}
    return {"gemini": answer, "file": row.extra.get("file")}


@dataclass(frozen=True)
class GeminiOutcome:
    """What Gemini made of a video: its result, or why there is none."""

    result: dict[str, Any] | None
    error: str
    seconds: float

    def save(self, *, video: Video) -> Analysis:
        """Store the outcome as the video's newest analysis (see the module docstring)."""
        extra = {"error": self.error} if self.result is None else self.result
        return Analysis.objects.create(
            video=video,
            analyzer=ANALYZER_NAME,
            analyzer_version=settings.GEMINI_MODEL[:32],
            extra=extra,
            wall_time=round(self.seconds, 3),
        )


def ask_gemini(
    video: Video, path: str | Path, *, duration: float | None = None, progress: Progress | None = None
) -> GeminiOutcome:
    """Gemini's analysis of ``video`` (the file at ``path``); never raises, and writes nothing."""
    started = time.monotonic()
    key = settings.GEMINI_API_KEY
    try:
        with make_client() as client:
            result = analyze_with_gemini(
                path,
                client=client,
                options=options(),
                file_ref=previous_file(video),
                duration=duration,
                # Google sees this name; the user's own file name stays here.
                display_name=f"videochat-{video.uuid.hex}",
                progress=_gemini_progress(progress),
            )
    except GeminiError as exc:
        reason = redact(exc.reason, key)
        logger.warning("Gemini analysis of video %s failed: %s", video.uuid, reason)
        return GeminiOutcome(None, reason, time.monotonic() - started)
    except Exception:
        # A bug here must not cost the user the local analysis.
        logger.error(
            "Gemini analysis of video %s stopped on an unexpected error:\n%s",
            video.uuid,
            redact(traceback.format_exc(), key),
        )
        return GeminiOutcome(None, UNEXPECTED, time.monotonic() - started)
    return GeminiOutcome(result, "", time.monotonic() - started)
