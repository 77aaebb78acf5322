"""Serving a stored file to the one user the caller has checked: whole or by byte range, never read whole.

The video's own bytes (with Range, so the player can seek) and its analyses'
pictures go through `serve_stored`. A storage that signs URLs (Supabase
Storage) serves the bytes itself, Range and all: the owner is sent there.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import IO

from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import content_disposition_header

# What the browser is told each stored container is (the upload check names them).
VIDEO_TYPES = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "matroska": "video/x-matroska",
    "avi": "video/x-msvideo",
    "mpegts": "video/mp2t",
    "mpegps": "video/mpeg",
}
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
CHUNK_SIZE = 64 * 1024
# Pictures are written once under unique names, so the browser may keep them a while.
PICTURE_MAX_AGE = 60 * 60
RANGE_RE = re.compile(r"bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")

logger = logging.getLogger(__name__)


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The (first, last) byte of a single `bytes=` range, inclusive.

    None means "send the whole file": RFC 9110 lets a server ignore a Range
    it does not support (several ranges) or that is malformed. Raises
    RangeNotSatisfiable when the range lies wholly beyond the end.
    """
    match = RANGE_RE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return start, min(end, size - 1)


def _chunks(fh: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        fh.seek(start)
        while length > 0:
            chunk = fh.read(min(CHUNK_SIZE, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        fh.close()


async def _achunks(fh: IO[bytes], start: int, length: int) -> AsyncIterator[bytes]:
    # Under ASGI, Django would gather a sync iterator into one list (the whole
    # file in memory), so the same reads run in a thread and chunks go out one by one.
    chunks = _chunks(fh, start, length)
    try:
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield chunk
    finally:
        await asyncio.to_thread(chunks.close)


def serve_stored(
    request: HttpRequest,
    name: str,
    content_type: str,
    *,
    etag: str | None = None,
    filename: str | None = None,
    max_age: int | None = None,
) -> HttpResponse:
    """Stream a stored file, whole (200) or one byte range of it (206), never read whole.

    A storage that signs URLs (Supabase Storage) serves the bytes itself, Range
    and all: the owner, already checked by the caller, is sent there instead.
    """
    if not name:
        raise Http404("No such file.")
    if hasattr(default_storage, "signed_url"):
        return _redirect_to_signed_url(name)
    try:
        size = default_storage.size(name)
    except OSError as exc:
        raise Http404("No such file.") from exc

    byte_range = None
    header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if header and (if_range is None or (etag is not None and if_range == etag)):
        try:
            byte_range = parse_range(header, size)
        except RangeNotSatisfiable:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return _media_headers(response, content_type, etag, filename, max_age)

    first, last = byte_range or (0, size - 1)
    length = max(0, last - first + 1)
    status = 206 if byte_range else 200
    if request.method == "HEAD":
        response = HttpResponse(status=status)
    else:
        try:
            fh = default_storage.open(name, "rb")
        except OSError as exc:
            raise Http404("No such file.") from exc
        stream = _achunks if isinstance(request, ASGIRequest) else _chunks
        response = StreamingHttpResponse(stream(fh, first, length), status=status)
    response["Content-Length"] = str(length)
    if byte_range:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return _media_headers(response, content_type, etag, filename, max_age)


def _redirect_to_signed_url(name: str) -> HttpResponse:
    try:
        url = default_storage.signed_url(name)
    except FileNotFoundError as exc:
        raise Http404("No such file.") from exc
    except OSError:
        logger.exception("could not sign a URL for %s", name)
        return HttpResponse(
            "The media storage did not answer. Please try again in a moment.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponseRedirect(url)
    # The URL is a bearer token for a while: for this user only, never kept.
    response["Cache-Control"] = "private, no-store"
    return response


def _media_headers(
    response: HttpResponse, content_type: str, etag: str | None, filename: str | None, max_age: int | None
) -> HttpResponse:
    response["Content-Type"] = content_type
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private" if max_age is None else f"private, max-age={max_age}"
    response["X-Content-Type-Options"] = "nosniff"
    if etag:
        response["ETag"] = etag
    if filename:
        response["Content-Disposition"] = content_disposition_header(False, filename)
    return response
