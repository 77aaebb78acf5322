"""Video understanding by Gemini: a video file and a google-genai client in, plain data out.

The video goes up through the Files API (a resumable upload), is polled until
Google has processed it (``ACTIVE``), and the model is asked for structured
JSON through a response schema: a summary, topics, key moments, a transcript
of any speech and the text seen on screen. A file reference from an earlier
run is used again while Google still keeps the file (48 hours), so a
re-analysis does not upload the video again.

Retries are the SDK's own: the caller builds the client with
``types.HttpOptions(retry_options=types.HttpRetryOptions(...))``, which retries
408, 429 and 5xx answers and timeouts with exponential backoff and jitter, a
bounded number of times. What still fails becomes a :class:`GeminiError`
whose ``reason`` is a sentence for a person.

No Django and no models here (see DESIGN.md), so the chat provider can use
the same client, options and error wording.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from google import genai
from google.genai import errors, types
from pydantic import BaseModel, Field

from analysis.analyzers.timefmt import format_time, parse_clock

logger = logging.getLogger(__name__)

ANALYZER_NAME = "gemini"
FILE_LIFETIME = timedelta(hours=48)
EXPIRY_MARGIN = timedelta(minutes=30)
"""A stored file this close to its expiry is uploaded again rather than trusted."""
MEDIA_RESOLUTIONS = {
    "low": types.MediaResolution.MEDIA_RESOLUTION_LOW,
    "medium": types.MediaResolution.MEDIA_RESOLUTION_MEDIUM,
    "high": types.MediaResolution.MEDIA_RESOLUTION_HIGH,
    "default": None,
}
# What each stored container is called when uploaded (by the suffix the upload gave it).
MIME_TYPES = {
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".ts": "video/mp2t",
    ".mpg": "video/mpeg",
}
MAX_ITEMS = 500
"""Key moments, transcript lines or on-screen texts kept from one answer."""
MAX_TEXT = 2000
"""Characters kept of any one text the model wrote (the summary gets four times as many)."""

Progress = Callable[[int, str], None]
# No tools are offered, so the SDK's automatic function calling (and its log line) is off.
NO_TOOLS = types.AutomaticFunctionCallingConfig(disable=True)


def _transport_errors(name: str) -> tuple[type[BaseException], ...]:
    """``name`` (TransportError, TimeoutException) from httpx and httpx2, whichever the SDK uses."""
    found = []
    for module in ("httpx", "httpx2"):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


NETWORK_ERRORS = _transport_errors("TransportError")
"""Failures to reach Gemini or to read its answer (timeouts, refused connections, cut streams)."""
TIMEOUTS = _transport_errors("TimeoutException")


class GeminiError(Exception):
    """Gemini gave no usable answer; ``reason`` says why, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class GeminiOptions:
    """How to ask: the model and the knobs from settings."""

    model: str
    attempts: int = 4
    """Tries per request, as configured on the client (used in messages only)."""
    timeout_seconds: float = 180
    """Per request, as configured on the client (used in messages only)."""
    poll_seconds: float = 2.0
    processing_timeout: float = 900
    long_video_seconds: float = 1800
    long_video_fps: float = 0.5
    long_video_resolution: str = "low"
    temperature: float | None = None


# --- what the model is asked to return ----------------------------------------


class KeyMoment(BaseModel):
    time: str = Field(description="When it happens, as MM:SS (H:MM:SS past an hour).")
    label: str = Field(description="One line saying what happens.")


class TranscriptLine(BaseModel):
    start: str = Field(description="MM:SS (H:MM:SS past an hour).")
    end: str = Field(description="MM:SS (H:MM:SS past an hour).")
    text: str = Field(description="What is said, verbatim, in the language spoken.")


class ScreenText(BaseModel):
    time: str = Field(description="When the text is first visible, as MM:SS (H:MM:SS past an hour).")
    text: str


class Understanding(BaseModel):
    summary: str = Field(description="What the video shows and says, in a few sentences.")
    topics: list[str] = Field(description="A few short topic labels.")
    key_moments: list[KeyMoment]
    transcript: list[TranscriptLine] = Field(description="Every stretch of speech; empty when nobody speaks.")
    on_screen_text: list[ScreenText] = Field(
        description="Text shown in the picture; empty when there is none."
    )


PROMPT = (
    "Analyse this video{length}. Return JSON with: a summary of what it shows and says; a few topics; "
    "the key moments, each with its time and one line; a transcript of any speech with start and end "
    "times; and any text shown on screen with the time it appears. Write every time as MM:SS "
    "(H:MM:SS past an hour), measured from the start of the video. Leave a list empty rather than "
    "guess."
)


# --- the analysis ---------------------------------------------------------------


def analyze_with_gemini(
    path: str | Path,
    *,
    client: genai.Client,
    options: GeminiOptions,
    file_ref: dict | None = None,
    duration: float | None = None,
    display_name: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Ask Gemini about the video at ``path``.

    ``file_ref`` is the ``file`` of an earlier result: used again while Google
    still has the file. ``duration`` (seconds, from the local analysis) picks
    the long-video settings and bounds the times the model may cite.

    Returns ``summary``, ``topics``, ``key_moments`` ``[{time, label}]``,
    ``transcript`` ``[{start, end, text}]``, ``on_screen_text`` ``[{time,
    text}]`` (times in seconds), ``file`` ``{name, uri, mime_type,
    expires_at}``, ``uploaded`` (whether this run uploaded the video),
    ``sampling`` and ``usage`` (tokens). Raises :class:`GeminiError`.
    """
    report = progress or (lambda percent, stage: None)
    try:
        file, uploaded = _active_file(client, Path(path), options, file_ref, display_name, report)
        report(60, "Asking Gemini")
        response = _generate(client, file, options, duration)
    except (errors.APIError, *NETWORK_ERRORS) as exc:
        raise GeminiError(describe_failure(exc, options)) from exc
    understanding = _parse(response)
    report(100, "Gemini is done")
    return {
        **_plain(understanding, duration),
        "file": file_reference(file),
        "uploaded": uploaded,
        "sampling": _sampling(options, duration),
        "usage": _usage(response),
    }


def _active_file(
    client: genai.Client,
    path: Path,
    options: GeminiOptions,
    file_ref: dict | None,
    display_name: str | None,
    report: Progress,
) -> tuple[types.File, bool]:
    """The video as an ACTIVE file on Google's side, and whether it was uploaded now."""
    file = _stored_file(client, file_ref)
    uploaded = file is None
    if file is None:
        report(0, "Uploading to Gemini")
        file = client.files.upload(
            file=path, config=types.UploadFileConfig(mime_type=mime_type(path), display_name=display_name)
        )
    report(30, "Gemini is processing the video")
    return _wait_until_active(client, file, options), uploaded


def _stored_file(client: genai.Client, file_ref: dict | None) -> types.File | None:
    """The file ``file_ref`` names, if Google still has it and will for a while."""
    if not file_ref or not file_ref.get("name"):
        return None
    expires = parse_timestamp(file_ref.get("expires_at"))
    if not is_fresh(expires):
        return None
    try:
        file = client.files.get(name=file_ref["name"])
    except errors.ClientError as exc:
        if is_missing_file(exc):
            return None
        raise
    if file.state == types.FileState.FAILED or not is_fresh(file.expiration_time):
        return None
    return file


def _wait_until_active(client: genai.Client, file: types.File, options: GeminiOptions) -> types.File:
    deadline = time.monotonic() + options.processing_timeout
    while file.state != types.FileState.ACTIVE:
        if file.state == types.FileState.FAILED:
            detail = (file.error.message if file.error else None) or "no reason given"
            raise GeminiError(f"Gemini could not process the video file ({_clip(detail, 300)}).")
        if time.monotonic() >= deadline:
            raise GeminiError(
                f"Gemini was still processing the video after {_span(options.processing_timeout)}."
            )
        time.sleep(options.poll_seconds)
        file = client.files.get(name=file.name or "")
    return file


def _generate(
    client: genai.Client, file: types.File, options: GeminiOptions, duration: float | None
) -> types.GenerateContentResponse:
    video = video_part(file_reference(file), options, duration)
    length = f" (it is {format_time(duration)} long)" if duration else ""
    config = types.GenerateContentConfig(
        response_mime_type="application/json",
        response_schema=Understanding,
        media_resolution=_media_resolution(options, duration),
        temperature=options.temperature,
        automatic_function_calling=NO_TOOLS,
    )
    prompt = types.Part.from_text(text=PROMPT.format(length=length))
    return client.models.generate_content(
        model=options.model,
        contents=[types.Content(role="user", parts=[video, prompt])],
        config=config,
    )


def _parse(response: types.GenerateContentResponse) -> Understanding:
    if isinstance(response.parsed, Understanding):
        return response.parsed
    if not response.text:
        raise GeminiError(f"Gemini gave no answer ({_why_empty(response)}).")
    raise GeminiError("Gemini's answer was not the JSON we asked for, so it could not be read.")


def _why_empty(response: types.GenerateContentResponse) -> str:
    feedback = response.prompt_feedback
    if feedback and feedback.block_reason:
        return f"the request was blocked: {feedback.block_reason}"
    if response.candidates and response.candidates[0].finish_reason:
        return f"it stopped: {response.candidates[0].finish_reason}"
    return "an empty response"


# --- the request's pieces, shared with the chat provider -----------------------------


def is_long(options: GeminiOptions, duration: float | None) -> bool:
    return duration is not None and duration > options.long_video_seconds


def video_part(file: dict, options: GeminiOptions, duration: float | None) -> types.Part:
    """A stored file as a request part; a long video is sampled at fewer frames a second."""
    metadata = types.VideoMetadata(fps=options.long_video_fps) if is_long(options, duration) else None
    return types.Part(
        file_data=types.FileData(file_uri=file["uri"], mime_type=file["mime_type"]),
        video_metadata=metadata,
    )


def _media_resolution(options: GeminiOptions, duration: float | None) -> types.MediaResolution | None:
    return MEDIA_RESOLUTIONS[options.long_video_resolution] if is_long(options, duration) else None


def _sampling(options: GeminiOptions, duration: float | None) -> dict[str, Any]:
    if is_long(options, duration):
        return {"fps": options.long_video_fps, "media_resolution": options.long_video_resolution}
    return {"fps": 1.0, "media_resolution": "default"}


def mime_type(path: Path) -> str:
    return MIME_TYPES.get(path.suffix.lower(), "video/mp4")


def file_reference(file: types.File) -> dict[str, str]:
    """What to keep of an uploaded file to use it again: name, uri, mime_type, expires_at (ISO 8601)."""
    expires = file.expiration_time or (file.create_time or datetime.now(UTC)) + FILE_LIFETIME
    return {
        "name": file.name or "",
        "uri": file.uri or "",
        "mime_type": file.mime_type or "",
        "expires_at": expires.astimezone(UTC).isoformat(),
    }


def parse_timestamp(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_fresh(expires: datetime | None, *, now: datetime | None = None) -> bool:
    """Whether a file expiring at ``expires`` can still be used for a while."""
    return expires is not None and expires - (now or datetime.now(UTC)) > EXPIRY_MARGIN


# --- the answer as plain data ----------------------------------------------------


def seconds(value: object) -> float | None:
    """A cited time in seconds: "01:15" → 75.0, "1:02:03" → 3723.0, "75" → 75.0; None for no time."""
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    text = str(value)
    clock = parse_clock(text)
    if clock is not None:
        return clock
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number >= 0 else None


def _in_video(value: object, duration: float | None) -> float | None:
    """A cited time in seconds, or None when it is no time or lies past the end."""
    moment = seconds(value)
    if moment is None or (duration is not None and moment > duration + 1):
        return None
    return round(moment if duration is None else min(moment, duration), 3)


def _span(seconds: float) -> str:
    """900 → "15 minutes", 1 → "1 second"."""
    value, unit = (seconds / 60, "minute") if seconds >= 60 and seconds % 60 == 0 else (seconds, "second")
    return f"{value:g} {unit}{'' if value == 1 else 's'}"


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _plain(answer: Understanding, duration: float | None) -> dict[str, Any]:
    """The answer with times in seconds; items with no usable time are dropped."""
    moments = [
        {"time": t, "label": _clip(m.label)}
        for m in answer.key_moments
        if (t := _in_video(m.time, duration)) is not None and m.label.strip()
    ]
    transcript = []
    for line in answer.transcript:
        start = _in_video(line.start, duration)
        if start is None or not line.text.strip():
            continue
        end = _in_video(line.end, duration)
        transcript.append({"start": start, "end": max(start, end or start), "text": _clip(line.text)})
    screen = [
        {"time": t, "text": _clip(item.text)}
        for item in answer.on_screen_text
        if (t := _in_video(item.time, duration)) is not None and item.text.strip()
    ]
    return {
        "summary": _clip(answer.summary, 4 * MAX_TEXT),
        "topics": [_clip(topic, 80) for topic in answer.topics if topic.strip()][:20],
        "key_moments": sorted(moments, key=lambda m: m["time"])[:MAX_ITEMS],
        "transcript": sorted(transcript, key=lambda line: line["start"])[:MAX_ITEMS],
        "on_screen_text": sorted(screen, key=lambda item: item["time"])[:MAX_ITEMS],
    }


def _usage(response: types.GenerateContentResponse) -> dict[str, int]:
    usage = response.usage_metadata
    if usage is None:
        return {}
    return {
        "prompt_tokens": usage.prompt_token_count or 0,
        "output_tokens": usage.candidates_token_count or 0,
        "total_tokens": usage.total_token_count or 0,
    }


# --- failures in words ---------------------------------------------------------------


def describe_failure(exc: BaseException, options: GeminiOptions) -> str:
    """A sentence for a person about a request that failed after the client's retries."""
    tries = "once" if options.attempts <= 1 else f"{options.attempts} times"
    if isinstance(exc, errors.APIError):
        return _describe_api_error(exc, tries)
    if isinstance(exc, TIMEOUTS):
        return f"Gemini did not answer within {options.timeout_seconds:g} seconds (tried {tries})."
    if isinstance(exc, NETWORK_ERRORS):
        return f"The connection to Gemini failed ({type(exc).__name__}, tried {tries})."
    return "Gemini failed on an unexpected error."


def _describe_api_error(exc: errors.APIError, tries: str) -> str:
    code, message = exc.code, _clip(exc.message or exc.status or "", 300)
    if code == 429:
        return (
            f"Gemini's rate limit or quota for this API key is used up (429, tried {tries}). Try again later."
        )
    if code >= 500:
        return f"Gemini had a server error ({code}) and still had it after trying {tries}."
    if code in (401, 403) or (code == 400 and "api key" in message.lower()):
        if "file" in message.lower():
            return f"Gemini no longer has the uploaded video file ({code}): {message}"
        return f"Gemini refused the API key ({code}). Check GEMINI_API_KEY."
    if code == 404:
        return f"Gemini does not know the model or file asked for (404): {message}"
    return f"Gemini refused the request ({code}): {message}"


def is_missing_file(exc: errors.APIError) -> bool:
    """Whether Google answered that a file the request named is gone (expired or deleted)."""
    return exc.code in (403, 404) and "file" in (exc.message or "").lower()


def redact(text: str, secret: str | None) -> str:
    """``text`` without ``secret`` in it (for anything that may reach a log or a person)."""
    return text.replace(secret, "[redacted]") if secret else text
