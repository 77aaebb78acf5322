"""Media in a private Supabase Storage bucket: a Django storage on supabase-py's storage client.

Selected by MEDIA_STORAGE=supabase (settings.py). The service-role key is read
from settings here, on the server, and only ever sent to Storage in request
headers; pages get signed URLs, which carry a short-lived token instead.

It uses storage3 (supabase-py's storage client) through what the package
exports: `SyncStorageClient`, built on an httpx client this module owns, and
its exceptions. Why not django-storages on Supabase's S3 endpoint: see
docs/supabase.md ("Why Storage's REST API and not its S3 endpoint").

Nothing goes through memory whole:
- uploads hand storage3 a path or an open file, which httpx streams as multipart;
- downloads stream the response into a temporary file. storage3's `download()`
  returns the whole body as bytes, so reads send the same request, Storage's
  documented `GET /object/{bucket}/{name}`, on our own httpx client.

Every failure is an OSError, as Django's own storages raise: a missing object
is FileNotFoundError, anything else StorageError, whose message names the
object and what Storage said (never a key).
"""

from __future__ import annotations

import logging
import mimetypes
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import BufferedReader, BytesIO, FileIO
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import Storage
from storage3 import SyncStorageClient
from storage3.exceptions import StorageApiError
from storage3.utils import StorageException

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
# Downloads up to this size stay in memory; larger ones roll over to a file on disk.
SPOOL_BYTES = 2 * 1024 * 1024
LIST_PAGE = 100
# What Storage tells browsers (and any CDN) about a signed URL's response. Names are
# random and written once, so the content under a name never changes.
CACHE_SECONDS = 3600
# Types Python's mimetypes does not know, or guesses wrongly, for the containers we accept.
CONTENT_TYPES = {".mkv": "video/x-matroska", ".ts": "video/mp2t", ".mpg": "video/mpeg"}


class StorageError(OSError):
    """Supabase Storage refused a request or could not be reached."""


def http_client(*, timeout: float = 60.0) -> httpx.Client:
    """The HTTP client every request to Storage goes through."""
    # HTTP/1.1, where supabase-py asks for HTTP/2: hpack logs every header it encodes
    # (the key among them) at DEBUG, and one object per request gains nothing from h2.
    return httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0), follow_redirects=True, http2=False)


def storage_client(url: str, key: str, *, http: httpx.Client | None = None) -> SyncStorageClient:
    """supabase-py's storage client for the project at `url`, authorised by `key`.

    The same client `supabase.create_client(url, key).storage` builds, with the
    same headers, minus the auth and REST clients this app has no use for.
    Closing it (`with storage_client(...)`) closes `http`.
    """
    return SyncStorageClient(storage_url(url), auth_headers(key), http_client=http or http_client())


def storage_url(project_url: str) -> str:
    return f"{project_url.rstrip('/')}/storage/v1/"


def auth_headers(key: str) -> dict[str, str]:
    """The headers supabase-py sends with every request."""
    return {"apikey": key, "Authorization": f"Bearer {key}"}


def translate_error(exc: Exception, name: str) -> OSError:
    """The OSError for a storage3 or httpx failure about object `name`."""
    if isinstance(exc, StorageApiError):
        if str(exc.status) == "404" or exc.code in {"not_found", "NoSuchKey"}:
            return FileNotFoundError(f"{name} is not in Supabase Storage")
        return StorageError(f"Supabase Storage answered {exc.status} ({exc.code}) for {name}: {exc.message}")
    if isinstance(exc, httpx.HTTPError):
        return StorageError(f"Supabase Storage could not be reached for {name}: {exc}")
    return StorageError(f"Supabase Storage failed for {name}: {exc}")


@contextmanager
def storage_errors(name: str) -> Iterator[None]:
    try:
        yield
    except (StorageException, httpx.HTTPError) as exc:
        raise translate_error(exc, name) from exc


def _might_have_stored(exc: Exception) -> bool:
    """Could the object exist although the upload failed? (A 5xx or a lost answer, not a 4xx.)"""
    if isinstance(exc, StorageApiError):
        try:
            return int(exc.status) >= 500
        except ValueError:
            return True
    return isinstance(exc, httpx.HTTPError)


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


@contextmanager
def upload_body(content: File) -> Iterator[Path | BufferedReader | FileIO | bytes]:
    """What storage3's upload takes, without reading a file on disk into memory.

    A file on disk goes as its path or its open handle (httpx streams either);
    content already in memory goes as bytes; anything else is copied to a
    temporary file first, chunk by chunk.
    """
    if hasattr(content, "temporary_file_path"):
        yield Path(content.temporary_file_path())
        return
    raw = getattr(content, "file", content)
    if isinstance(raw, BufferedReader | FileIO):
        raw.seek(0)
        yield raw
        return
    if isinstance(raw, BytesIO):
        yield raw.getvalue()
        return
    with tempfile.NamedTemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as spool:
        for chunk in content.chunks(CHUNK_SIZE):
            spool.write(chunk.encode() if isinstance(chunk, str) else chunk)
        spool.flush()
        yield Path(spool.name)


class SupabaseStorage(Storage):
    """Files in the private bucket SUPABASE_STORAGE_BUCKET of the project at SUPABASE_URL."""

    def __init__(self) -> None:
        self.project_url = settings.SUPABASE_URL
        self.bucket = settings.SUPABASE_STORAGE_BUCKET
        self.signed_url_seconds = settings.SUPABASE_SIGNED_URL_SECONDS
        if not self.project_url:
            raise ImproperlyConfigured("SUPABASE_URL must be set when MEDIA_STORAGE=supabase")
        if not settings.SUPABASE_SERVICE_ROLE_KEY:
            raise ImproperlyConfigured("SUPABASE_SERVICE_ROLE_KEY must be set when MEDIA_STORAGE=supabase")
        self._http: httpx.Client | None = None
        self._client: SyncStorageClient | None = None
        self._client_pid = 0

    # --- the clients, one per process (a forked child must not share its sockets)

    def _connect(self) -> tuple[httpx.Client, SyncStorageClient]:
        if self._http is None or self._client is None or self._client_pid != os.getpid():
            self._http = http_client()
            self._client = storage_client(
                self.project_url, settings.SUPABASE_SERVICE_ROLE_KEY, http=self._http
            )
            self._client_pid = os.getpid()
        return self._http, self._client

    @property
    def client(self) -> SyncStorageClient:
        return self._connect()[1]

    def _objects(self):  # storage3 exports no name for the bucket proxy `from_()` returns
        return self.client.from_(self.bucket)

    # --- Django's Storage API

    def _save(self, name: str, content: File) -> str:
        options: dict[str, Any] = {"content-type": content_type(name), "cache-control": str(CACHE_SECONDS)}
        with upload_body(content) as body:
            try:
                self._objects().upload(name, body, options)
            except (StorageException, httpx.HTTPError) as exc:
                if _might_have_stored(exc):
                    self._forget(name)
                raise translate_error(exc, name) from exc
        return name

    def _open(self, name: str, mode: str = "rb") -> File:
        if set(mode) - set("rb"):
            raise ValueError(f"SupabaseStorage opens files for reading only, not {mode!r}")
        # Handed to the caller, who closes it (and so deletes it).
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115
        try:
            self.download(name, spool)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return File(spool, name)

    def delete(self, name: str) -> None:
        # Removing a name that is not there succeeds, as Django's contract asks.
        with storage_errors(name):
            self._objects().remove([name])

    def exists(self, name: str) -> bool:
        with storage_errors(name):
            return self._objects().exists(name)

    def size(self, name: str) -> int:
        with storage_errors(name):
            info = self._objects().info(name)
        return int(info.get("size") or 0)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = path.strip("/")
        directories: list[str] = []
        files: list[str] = []
        offset = 0
        while True:
            with storage_errors(prefix or "/"):
                page = self._objects().list(prefix or None, {"limit": LIST_PAGE, "offset": offset})
            for entry in page:
                # Storage lists a "folder" as an entry without an id.
                (files if entry.get("id") else directories).append(entry["name"])
            if len(page) < LIST_PAGE:
                return directories, files
            offset += LIST_PAGE

    def url(self, name: str | None) -> str:
        raise NotImplementedError(
            "Media in Supabase Storage is private: it has no public URL. The media views "
            "check the owner and redirect to signed_url(name)."
        )

    # --- beyond Django's API

    def signed_url(self, name: str, expires_in: int | None = None) -> str:
        """A URL that serves the object (with Range) to anyone holding it, for `expires_in` seconds."""
        with storage_errors(name):
            signed = self._objects().create_signed_url(name, expires_in or self.signed_url_seconds)
        if not signed.get("signedURL"):
            raise StorageError(f"Supabase Storage gave no signed URL for {name}")
        return signed["signedURL"]

    def _object_url(self, name: str) -> str:
        return f"{storage_url(self.project_url)}object/{quote(self.bucket, safe='')}/{quote(name)}"

    def download(self, name: str, target: IO[bytes]) -> None:
        """Stream the object into `target` (the worker's copy of a video goes straight to disk).

        storage3's own download() would hold the whole object in memory.
        """
        http, _ = self._connect()
        headers = auth_headers(settings.SUPABASE_SERVICE_ROLE_KEY)
        with (
            storage_errors(name),
            http.stream("GET", self._object_url(name), headers=headers) as response,
        ):
            if response.is_error:
                response.read()
                raise _api_error(response)
            for chunk in response.iter_bytes(CHUNK_SIZE):
                target.write(chunk)

    def _forget(self, name: str) -> None:
        """Remove what a failed upload may have left, so no object is left without its row."""
        try:
            self.delete(name)
        except OSError:
            logger.warning("could not remove %s after its upload failed", name, exc_info=True)


def _api_error(response: httpx.Response) -> StorageApiError:
    """Storage's JSON error body as storage3 reads it."""
    try:
        body = response.json()
        return StorageApiError(body["message"], body["error"], body["statusCode"])
    except (KeyError, TypeError, ValueError):
        return StorageApiError(f"HTTP {response.status_code}", "InternalError", response.status_code)
