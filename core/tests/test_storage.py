"""Media in Supabase Storage: the real storage3 client against the fake Storage server.

Every test runs with MEDIA_STORAGE=supabase pointed at `fake_supabase` (see
testkit/fake_supabase.py) through the `supabase_media` fixture.
"""

from __future__ import annotations

import ast
import hashlib
import logging
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import httpx
import pytest
from django.contrib.messages import get_messages
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError
from django.urls import reverse

from analysis import jobs, services
from analysis.models import Video
from analysis.tests.test_pages import make_analysis
from core import storage as storage_module
from core.storage import StorageError, SupabaseStorage
from ops.management.commands import supabase_check
from testkit.fake_supabase import serve_fake_supabase

pytestmark = pytest.mark.django_db

UPLOAD_URL = reverse("analysis:video-upload")
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def media(supabase_media):
    return supabase_media


@pytest.fixture
def clip_bytes(clips) -> bytes:
    return Path(clips["short"].path).read_bytes()


def _upload(client, name: str, data: bytes):
    return client.post(UPLOAD_URL, {"files": [SimpleUploadedFile(name, data, content_type="video/mp4")]})


def _said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _create(owner, data: bytes, name: str = "holiday.mp4") -> Video:
    video, created = services.video_create(
        owner=owner,
        file=ContentFile(data),
        original_name=name,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        container="mp4",
    )
    assert created
    return video


def _file_url(video: Video) -> str:
    return reverse("analysis:video-file", args=[video.uuid])


# --- storing and reading -------------------------------------------------------------


def test_it_is_the_default_storage():
    assert isinstance(storages["default"], SupabaseStorage)


def test_an_upload_is_stored_and_reads_back_byte_for_byte(owner_client, owner, media, clip_bytes):
    response = _upload(owner_client, "holiday.mp4", clip_bytes)

    assert response.status_code == 302
    video = Video.objects.get(owner=owner)
    assert media.names() == [video.file.name]
    assert media.read(video.file.name) == clip_bytes
    assert media.meta[(media.bucket, video.file.name)]["content_type"] == "video/mp4"
    with default_storage.open(video.file.name) as fh:
        assert fh.read() == clip_bytes
    assert default_storage.size(video.file.name) == len(clip_bytes)
    assert default_storage.exists(video.file.name)
    assert not default_storage.exists(f"{video.media_prefix}/nothing-here.mp4")


def test_every_request_carries_the_service_key(owner, media, clip_bytes):
    _create(owner, clip_bytes)

    assert media.requests
    for request in media.requests:
        assert request.headers["apikey"] == media.key
        assert request.headers["authorization"] == f"Bearer {media.key}"


def test_a_large_file_is_streamed_both_ways_never_held_in_memory(tmp_path, media):
    source = tmp_path / "large.bin"
    with open(source, "wb") as fh:
        for n in range(32):
            fh.write(hashlib.sha256(str(n).encode()).digest() * (MB // 32))
    size = source.stat().st_size

    tracemalloc.start()
    try:
        with open(source, "rb") as fh:
            name = default_storage.save("videos/large/source.mp4", File(fh))
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        with default_storage.open(name) as fh:
            for chunk in fh.chunks():
                digest.update(chunk)
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert size == 32 * MB
    assert media.path(media.bucket, name).stat().st_size == size
    assert digest.hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()
    assert upload_peak < 8 * MB, f"upload peaked at {upload_peak / MB:.1f} MB"
    assert download_peak < 8 * MB, f"download peaked at {download_peak / MB:.1f} MB"


def test_it_lists_a_folder(media):
    media.put("videos/a/source.mp4", b"a")
    media.put("videos/a/analysis-1/poster.jpg", b"p")
    media.put("videos/b/source.mp4", b"b")

    assert default_storage.listdir("videos") == (["a", "b"], [])
    assert default_storage.listdir("videos/a") == (["analysis-1"], ["source.mp4"])


def test_it_has_no_public_url(media):
    with pytest.raises(NotImplementedError, match="private"):
        default_storage.url("videos/a/source.mp4")


def test_a_missing_object_is_file_not_found(media):
    with pytest.raises(FileNotFoundError):
        default_storage.open("videos/none/source.mp4")
    with pytest.raises(FileNotFoundError):
        default_storage.size("videos/none/source.mp4")
    default_storage.delete("videos/none/source.mp4")  # deleting what is not there is fine


def test_storage_failures_are_os_errors_that_say_what_happened(media):
    media.put("videos/a/source.mp4", b"a")
    media.fail("GET", "/object/", status=500)

    with pytest.raises(StorageError, match=r"answered 500 .* videos/a/source.mp4"):
        default_storage.open("videos/a/source.mp4")


def test_an_unreachable_storage_is_a_storage_error(settings, tmp_path):
    with serve_fake_supabase(tmp_path / "gone") as gone:
        url = gone.url
    settings.SUPABASE_URL = url  # nothing listens there any more
    settings.STORAGES = {**settings.STORAGES}

    with pytest.raises(StorageError, match="could not be reached"):
        default_storage.exists("videos/a/source.mp4")


# --- atomic uploads ------------------------------------------------------------------


def test_storage_answering_500_refuses_the_upload_and_records_nothing(owner_client, owner, media, clip_bytes):
    media.fail("POST", "/object/", status=500)

    response = _upload(owner_client, "holiday.mp4", clip_bytes)

    assert response.status_code == 302
    assert _said(response) == [
        "holiday.mp4 was refused: it could not be saved because of a problem on our side. Please try again."
    ]
    assert not Video.objects.exists()
    assert media.names() == []


def test_an_object_stored_before_the_500_is_removed_again(owner_client, owner, media, clip_bytes):
    media.fail("POST", "/object/", status=500, after_store=True)

    _upload(owner_client, "holiday.mp4", clip_bytes)

    assert not Video.objects.exists()
    assert media.names() == []
    assert [r.method for r in media.requests if r.method == "DELETE"] == ["DELETE"]


def test_a_row_that_cannot_be_written_takes_its_object_with_it(owner_client, monkeypatch, media, clip_bytes):
    def broken(video, **kwargs):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(jobs, "enqueue_analysis", broken)

    response = _upload(owner_client, "holiday.mp4", clip_bytes)

    assert "holiday.mp4 was refused" in _said(response)[0]
    assert not Video.objects.exists()
    assert media.names() == []


# --- the media views -----------------------------------------------------------------


def test_the_media_view_sends_the_owner_to_a_short_lived_signed_url(owner_client, owner, media, settings):
    data = bytes(range(256)) * 40
    video = _create(owner, data)

    response = owner_client.get(_file_url(video))

    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = response["Location"]
    assert location.startswith(f"{media.url}/storage/v1/object/sign/{media.bucket}/{video.file.name}?token=")
    [sign] = [r for r in media.requests if r.path.startswith("/storage/v1/object/sign/")]
    assert sign.json == {"expiresIn": str(settings.SUPABASE_SIGNED_URL_SECONDS)}

    # Storage serves it, Range and all.
    assert httpx.get(location).content == data
    ranged = httpx.get(location, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206
    assert ranged.content == data[100:200]
    assert ranged.headers["Content-Range"] == f"bytes 100-199/{len(data)}"


def test_a_signed_url_stops_working_when_it_expires(owner_client, owner, media, settings):
    settings.SUPABASE_SIGNED_URL_SECONDS = 60
    video = _create(owner, b"\x00" * 1000)
    location = owner_client.get(_file_url(video))["Location"]

    media.advance(59)
    assert httpx.get(location).status_code == 200
    media.advance(2)
    expired = httpx.get(location)
    assert expired.status_code == 400
    assert expired.json()["message"] == "jwt expired"

    # The page asks again and gets a fresh one.
    fresh = owner_client.get(_file_url(video))["Location"]
    assert fresh != location
    assert httpx.get(fresh).status_code == 200


def test_pictures_are_redirected_too(owner_client, owner, media):
    video = _create(owner, b"\x00" * 1000)
    analysis = make_analysis(video)

    response = owner_client.get(reverse("analysis:video-media", args=[video.uuid, analysis.poster]))

    assert response.status_code == 302
    assert httpx.get(response["Location"]).content == media.read(analysis.poster)


def test_the_owner_is_checked_before_anything_is_signed(client, outsider_client, owner, media):
    video = _create(owner, b"\x00" * 1000)

    assert outsider_client.get(_file_url(video)).status_code == 404
    assert client.get(_file_url(video)).status_code == 404
    assert not [r for r in media.requests if "/object/sign/" in r.path]


def test_a_video_whose_object_is_gone_is_a_404(owner_client, owner, media):
    video = _create(owner, b"\x00" * 1000)
    default_storage.delete(video.file.name)

    assert owner_client.get(_file_url(video)).status_code == 404


def test_storage_down_while_signing_is_a_503_not_a_500(owner_client, owner, media):
    video = _create(owner, b"\x00" * 1000)
    media.fail("POST", "/object/sign/", status=500)

    response = owner_client.get(_file_url(video))

    assert response.status_code == 503
    assert b"try again" in response.content


# --- deleting ------------------------------------------------------------------------


def test_deleting_a_video_deletes_its_objects(owner_client, owner, media, django_capture_on_commit_callbacks):
    video = _create(owner, b"\x00" * 1000)
    make_analysis(video)
    assert len(media.names()) > 1

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("analysis:video-delete", args=[video.uuid]))

    assert response.status_code == 302
    assert not Video.objects.exists()
    assert media.names() == []


# --- the worker ----------------------------------------------------------------------


@pytest.mark.slow
def test_the_worker_reads_the_video_from_storage_and_stores_its_pictures_there(
    owner_client, owner, media, clip_bytes, settings, monkeypatch
):
    settings.TRANSCRIBE_SPEECH = False
    video = _create(owner, clip_bytes)
    # One local copy: the download goes straight to the worker's file, not through a spooled open().
    opened = SupabaseStorage._open

    def open_anything_but_the_video(storage, name, mode="rb"):
        assert name != video.file.name, "the worker spooled the video through open()"
        return opened(storage, name, mode)

    monkeypatch.setattr(SupabaseStorage, "_open", open_anything_but_the_video)

    assert jobs.analyze_video(video.pk) == "done"

    video.refresh_from_db()
    assert video.status == Video.Status.DONE
    analysis = video.latest_analysis
    assert analysis.poster
    assert set(analysis.media_names()) <= set(media.names())
    # The job fetched the video once, as a download (streamed to a temporary file).
    source = f"/storage/v1/object/{media.bucket}/{video.file.name}"
    assert [r.path for r in media.requests if r.method == "GET"].count(source) == 1
    poster = owner_client.get(reverse("analysis:video-media", args=[video.uuid, analysis.poster]))
    assert httpx.get(poster["Location"]).content[:3] == b"\xff\xd8\xff"  # a JPEG


# --- the key stays on the server -----------------------------------------------------


def test_the_service_role_key_never_reaches_a_page_or_a_log(owner_client, owner, media, clip_bytes, caplog):
    caplog.set_level(logging.DEBUG)
    responses = [
        _upload(owner_client, "holiday.mp4", clip_bytes),
        owner_client.get(reverse("analysis:video-list")),
    ]
    video = Video.objects.get(owner=owner)
    make_analysis(video)
    responses += [
        owner_client.get(video.get_absolute_url()),
        owner_client.get(_file_url(video)),
    ]
    media.fail("POST", "/object/", status=500)
    responses.append(_upload(owner_client, "other.mp4", clip_bytes[:-1] + b"\x00"))
    media.fail("POST", "/object/sign/", status=500)
    responses.append(owner_client.get(_file_url(video)))

    assert [r.status_code for r in responses] == [302, 200, 200, 302, 302, 503]
    assert any(media.key in r.headers.get("authorization", "") for r in media.requests)
    for response in responses:
        assert media.key not in response.content.decode(errors="replace")
        assert all(media.key not in value for value in response.headers.values())
    assert "could not store upload" in caplog.text  # the failures were logged...
    assert media.key not in caplog.text  # ...without the key


# --- storage3 through its public API ------------------------------------------------


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    modules = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    modules += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    names = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    ]
    return modules + names


def test_storage_code_imports_nothing_private_from_its_dependencies():
    # A module or name with a leading underscore (storage3._sync, say) can change in any release.
    for module in (storage_module, supabase_check):
        private = [
            name
            for name in _imported_modules(Path(module.__file__))
            if not name.startswith("__future__") and any(part.startswith("_") for part in name.split("."))
        ]
        assert private == [], f"{module.__name__} imports private names: {private}"


# --- start-up ------------------------------------------------------------------------


def _settings_with(**env: str) -> subprocess.CompletedProcess:
    code = (
        "import videochat.settings as s; "
        "print(s.STORAGES['default']['BACKEND']); "
        "print(' '.join(s.CONTENT_SECURITY_POLICY['DIRECTIVES']['media-src']))"
    )
    environ = {**os.environ, "DEBUG": "true", **env}
    return subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=60, check=False
    )


def test_start_up_names_a_missing_supabase_variable():
    result = _settings_with(MEDIA_STORAGE="supabase", SUPABASE_URL="", SUPABASE_SERVICE_ROLE_KEY="")
    assert result.returncode != 0
    assert "SUPABASE_URL must be set when MEDIA_STORAGE=supabase" in result.stderr

    result = _settings_with(
        MEDIA_STORAGE="supabase", SUPABASE_URL="https://abc.supabase.co", SUPABASE_SERVICE_ROLE_KEY=""
    )
    assert result.returncode != 0
    assert "SUPABASE_SERVICE_ROLE_KEY must be set when MEDIA_STORAGE=supabase" in result.stderr


def test_media_storage_supabase_selects_the_backend_and_lets_pages_load_from_storage():
    result = _settings_with(
        MEDIA_STORAGE="supabase", SUPABASE_URL="https://abc.supabase.co/", SUPABASE_SERVICE_ROLE_KEY="k"
    )
    assert result.returncode == 0, result.stderr
    backend, media_src = result.stdout.splitlines()
    assert backend == "core.storage.SupabaseStorage"
    assert "https://abc.supabase.co" in media_src.split()


def test_the_local_filesystem_stays_the_default():
    result = _settings_with(MEDIA_STORAGE="")
    assert result.stdout.splitlines()[0] == "django.core.files.storage.FileSystemStorage"
