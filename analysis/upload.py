"""Video uploads: streamed to temporary files, checked as they arrive, stored once.

`VideoUploadHandler` sees each file chunk by chunk while Django parses the
request. It hashes every chunk, keeps the first bytes to sniff the container,
counts the bytes, and gives up on a file (SkipFile) as soon as it is over the
size cap, over the count of files per request, or plainly not a video, so
such a file is never written out in full.

A view that takes videos wraps itself in `receives_videos` (which installs the
handler before anything reads the body, then checks CSRF, then removes every
temporary file when the view returns) and calls `accept_uploads` to turn what
arrived into Video rows. `upload_videos` is such a view, the one the video
list and the chat composer both post to (static/js/upload.js).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import SuspiciousOperation, TooManyFilesSent
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from analysis.models import Video
from analysis.services import video_create
from analysis.sniff import SNIFF_BYTES, describe, sniff_container
from core.bodies import accepts_body
from core.ratelimits import Limit, over_limit

logger = logging.getLogger(__name__)

RESULTS_TEMPLATE = "analysis/_upload_form.html#results"
UPLOADS = Limit("upload-user", "user", "RATELIMIT_UPLOAD_USER", "uploads")
FORMATS = "MP4, MOV, WebM, MKV, AVI, MPEG-TS or MPEG-PS"
NO_FILES = "Choose one or more video files to upload."

# Why a file was refused, said after its name ("holiday.mp4 was refused: ...").
EMPTY = "empty"
TOO_LARGE = "too-large"
NOT_VIDEO = "not-video"
TOO_MANY = "too-many"
CUT_OFF = "cut-off"
NOT_SAVED = "not-saved"


def upload_limits() -> dict[str, int]:
    """The caps, for the form's help text and its early client-side size check."""
    return {
        "max_files": settings.MAX_FILES_PER_UPLOAD,
        "max_mb": settings.MAX_UPLOAD_MB,
        "max_bytes": settings.MAX_UPLOAD_MB * 1024 * 1024,
    }


def _reason(code: str, *, head: bytes = b"") -> str:
    if code == EMPTY:
        return "the file is empty."
    if code == TOO_LARGE:
        return f"it is larger than the {settings.MAX_UPLOAD_MB} MB limit."
    if code == TOO_MANY:
        return f"you can upload at most {settings.MAX_FILES_PER_UPLOAD} files at a time."
    if code == CUT_OFF:
        return "the upload stopped before the file ended; nothing of it was kept. Please try again."
    if code == NOT_VIDEO:
        what = describe(head)
        looks = f" It looks like {what}." if what else ""
        return f"it is not a video we can read ({FORMATS}).{looks}"
    return "it could not be saved because of a problem on our side. Please try again."


@dataclass
class Received:
    """One file of the request as the handler saw it."""

    name: str
    file: TemporaryUploadedFile | None = None  # set once the file passed every check
    size: int = 0
    sha256: str = ""
    container: str = ""
    refusal: str = ""  # one of the codes above
    reason: str = ""


@dataclass(frozen=True)
class UploadOutcome:
    """What became of one uploaded file."""

    name: str
    video: Video | None = None
    created: bool = False
    code: str = ""  # "accepted", "duplicate", or why it was refused
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.video is not None


class VideoUploadHandler(TemporaryFileUploadHandler):
    """Streams each file to a temporary file, hashing, counting and sniffing as it goes."""

    chunk_size = 256 * 1024

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        # Read at request time, so a changed setting applies to the next upload.
        self.max_bytes = settings.MAX_UPLOAD_MB * 1024 * 1024
        self.max_files = settings.MAX_FILES_PER_UPLOAD
        self.received: list[Received] = []
        self._opened: list[TemporaryUploadedFile] = []

    def new_file(self, field_name, file_name, *args, **kwargs) -> None:
        # The parser closes `self.file` when a file is skipped: never leave it
        # pointing at the previous, accepted one.
        self.__dict__.pop("file", None)
        self.head = b""
        self.current = Received(name=file_name)
        self.received.append(self.current)
        if len(self.received) > self.max_files:
            self._refuse(TOO_MANY)
        # A fixed name for the temporary file: Django would append the user's
        # "extension", which can be longer than a file name may be.
        super().new_file(field_name, "upload", *args, **kwargs)
        self._opened.append(self.file)
        self.digest = hashlib.sha256()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        received = self.current
        if received.size + len(raw_data) > self.max_bytes:
            self._refuse(TOO_LARGE)
        if not received.container and len(self.head) < SNIFF_BYTES:
            self.head += raw_data[: SNIFF_BYTES - len(self.head)]
            if len(self.head) >= SNIFF_BYTES:
                self._sniff()
        received.size += len(raw_data)
        self.digest.update(raw_data)
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> TemporaryUploadedFile | None:
        received = self.current
        try:
            if file_size == 0:
                self._refuse(EMPTY)
            if not received.container:
                self._sniff()
        except SkipFile:
            self.file.close()
            return None
        received.sha256 = self.digest.hexdigest()
        received.file = super().file_complete(file_size)
        return received.file

    def upload_interrupted(self) -> None:
        # The parser calls this when the body ended inside the last file (its
        # closing boundary never came), and also after a last file it skipped:
        # that one keeps the reason it was refused for.
        if not self.current.refusal:
            self.current.refusal = CUT_OFF
            self.current.reason = _reason(CUT_OFF)
        super().upload_interrupted()

    def discard(self) -> None:
        """Remove every temporary file this request made (stored ones were moved already)."""
        for file in self._opened:
            file.close()
        self._opened.clear()

    def _sniff(self) -> None:
        container = sniff_container(self.head)
        if container is None:
            self._refuse(NOT_VIDEO)
        self.current.container = container

    def _refuse(self, code: str) -> None:
        self.current.refusal = code
        self.current.reason = _reason(code, head=self.head)
        raise SkipFile(code)


def receives_videos(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For a POST view that takes video files; the view gets `uploads` (the handler).

    The streaming handler must be installed before anything reads the body,
    and CSRF's check reads it: so CSRF is checked here, after installing it,
    as Django's docs describe. An unreadable body gets a clear 400.
    """
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        uploads = install_upload_handler(request)
        try:
            if unreadable := read_uploads(request):
                return _unreadable(request, unreadable)
            return protected(request, *args, uploads=uploads, **kwargs)
        finally:
            uploads.discard()

    return wrapper


def install_upload_handler(request: HttpRequest) -> VideoUploadHandler:
    """Stream this request's files through the checks; before anything reads its body.

    Whoever installs it calls `discard()` once done with the files. A second
    call returns the handler in place.
    """
    installed = request.upload_handlers
    if len(installed) == 1 and isinstance(installed[0], VideoUploadHandler):
        return installed[0]  # installed already (the API's session check needs it before it runs)
    uploads = VideoUploadHandler(request)
    request.upload_handlers = [uploads]
    return uploads


def read_uploads(request: HttpRequest) -> str:
    """Parse the body now, through the installed handler; why it could not be read, or ""."""
    try:
        request.FILES  # noqa: B018 (parse now, so errors get our answer)
    except TooManyFilesSent:
        return _reason(TOO_MANY).capitalize()
    except (MultiPartParserError, SuspiciousOperation, UnreadablePostError):
        logger.info("unreadable upload from user %s", request.user.pk, exc_info=True)
        return "The upload could not be read. Please try again."
    return ""


def accept_uploads(request: HttpRequest, uploads: VideoUploadHandler) -> list[UploadOutcome]:
    """Store every file that passed the checks; one outcome per file, in upload order."""
    outcomes = []
    for received in uploads.received:
        if received.file is None:
            outcomes.append(UploadOutcome(received.name, code=received.refusal, reason=received.reason))
            continue
        try:
            video, created = video_create(
                owner=request.user,
                file=received.file,
                original_name=received.name,
                size=received.size,
                sha256=received.sha256,
                container=received.container,
            )
        except (OSError, DatabaseError):
            logger.exception("could not store upload %r of user %s", received.name, request.user.pk)
            outcomes.append(UploadOutcome(received.name, code=NOT_SAVED, reason=_reason(NOT_SAVED)))
            continue
        code = "accepted" if created else "duplicate"
        outcomes.append(UploadOutcome(received.name, video=video, created=created, code=code))
    return outcomes


def too_many_notice(outcomes: list[UploadOutcome]) -> str:
    """The one sentence for files left out because the request had too many."""
    left_out = [outcome.name for outcome in outcomes if outcome.code == TOO_MANY]
    if not left_out:
        return ""
    return (
        f"You can upload at most {settings.MAX_FILES_PER_UPLOAD} files at a time; "
        f"these were not uploaded: {', '.join(left_out)}."
    )


def upload_body_bytes() -> int:
    """The largest upload body: every file at its cap, with room for each part's headers and the form."""
    return settings.MAX_FILES_PER_UPLOAD * (settings.MAX_UPLOAD_MB * 1024 * 1024 + 16 * 1024) + 64 * 1024


# The server checks the cap, the log-in and CSRF before it reads any of the body.
@accepts_body(max_bytes=upload_body_bytes, members_only=True, what="upload")
@require_POST
@csrf_exempt  # checked by receives_videos, once the streaming handler is in place
def upload_videos(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        # Before the body is parsed: nothing of it is stored.
        if request.htmx:
            return HttpResponse("Log in to upload videos.", status=403, content_type="text/plain")
        return redirect_to_login(reverse("analysis:video-list"))
    return over_limit(request, UPLOADS, back=reverse("analysis:video-list")) or _receive(request)


@receives_videos
def _receive(request: HttpRequest, uploads: VideoUploadHandler) -> HttpResponse:
    outcomes = accept_uploads(request, uploads)
    if not outcomes:
        return _unreadable(request, NO_FILES)
    notice = too_many_notice(outcomes)
    if not request.htmx:
        _tell(request, outcomes, notice)
        return redirect("analysis:video-list")
    accepted = any(outcome.accepted for outcome in outcomes)
    context = {"outcomes": outcomes, "notice": notice}
    response = render(request, RESULTS_TEMPLATE, context, status=200 if accepted else 400)
    if any(outcome.created for outcome in outcomes):
        response["HX-Trigger"] = "videos-changed"
    return response


def _tell(request: HttpRequest, outcomes: list[UploadOutcome], notice: str) -> None:
    """The outcomes as messages, for the page the browser is sent back to."""
    for outcome in outcomes:
        if outcome.code == "accepted":
            messages.success(request, f"{outcome.name} was uploaded; its analysis is queued.")
        elif outcome.code == "duplicate":
            messages.info(
                request,
                f"{outcome.name} is already in your videos as “{outcome.video.original_name}”; "
                "nothing new was queued.",
            )
        elif outcome.code != TOO_MANY:
            messages.error(request, f"{outcome.name} was refused: {outcome.reason}")
    if notice:
        messages.error(request, notice)


def _unreadable(request: HttpRequest, message: str) -> HttpResponse:
    if request.htmx:
        return render(request, RESULTS_TEMPLATE, {"outcomes": [], "notice": message}, status=400)
    messages.error(request, message)
    return redirect("analysis:video-list")
