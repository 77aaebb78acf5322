"""Uploading videos: streaming checks, rows, stored files, queued jobs, refusals, limits, escaping."""

from __future__ import annotations

import hashlib
import http.client
import os
import secrets
from pathlib import Path

import django_rq
import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import SkipFile
from django.test import Client

from analysis import jobs
from analysis.models import CONTAINER_EXTENSIONS, Video
from analysis.sniff import SNIFF_BYTES
from analysis.tests.clips import make_not_video
from analysis.tests.test_sniff import MUXED, make_tiny
from analysis.upload import VideoUploadHandler
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

URL = "/videos/upload/"
HTML_PAGE = b"<!DOCTYPE html>\n<html><head><title>Not a video</title></head><body>Hello</body></html>\n"
SCRIPT_NAME = '<script>alert("owned")<script>.mp4'


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, bytes]:
    """A tiny real clip in every container, as bytes."""
    folder = tmp_path_factory.mktemp("tiny")
    return {c: make_tiny(folder / f"clip{CONTAINER_EXTENSIONS[c]}", c).path.read_bytes() for c in MUXED}


@pytest.fixture(scope="module")
def png(tmp_path_factory) -> bytes:
    return make_not_video(tmp_path_factory.mktemp("png") / "holiday.mp4").read_bytes()


@pytest.fixture(autouse=True)
def storage(settings, tmp_path):
    """Media and temporary uploads under tmp_path; no temporary file may outlive a request."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    (tmp_path / "uploads").mkdir()
    yield tmp_path / "media"
    assert list((tmp_path / "uploads").iterdir()) == [], "a temporary upload file was left behind"


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run on-commit callbacks (the enqueueing) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def upload(client: Client, *files: tuple[str, bytes], htmx: bool = False, **headers: str):
    """POST the files as one multipart request, the browser claiming each is an MP4."""
    data = {"files": [SimpleUploadedFile(name, content, content_type="video/mp4") for name, content in files]}
    if htmx:
        headers["HX-Request"] = "true"
    return client.post(URL, data, headers=headers)


def multipart(*files: tuple[str, bytes], cut: int | None = None) -> bytes:
    """A multipart body built by hand (the test client would shorten long names).

    With `cut`, the body stops that many bytes into the last file: its closing
    boundary never comes.
    """
    parts = [
        f'--b0undary\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        f"Content-Type: video/mp4\r\n\r\n".encode()
        + data
        + b"\r\n"
        for name, data in files
    ]
    if cut is None:
        return b"".join(parts) + b"--b0undary--\r\n"
    last = parts.pop()
    return b"".join(parts) + last[: last.index(b"\r\n\r\n") + 4 + cut]


def post_body(client: Client, body: bytes, *, htmx: bool = False, **headers: str):
    if htmx:
        headers["HX-Request"] = "true"
    return client.post(URL, body, content_type="multipart/form-data; boundary=b0undary", headers=headers)


def said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def queued() -> list[str]:
    return django_rq.get_queue("default").job_ids


def stored_files(media: Path) -> list[Path]:
    return [path for path in media.rglob("*") if path.is_file()] if media.exists() else []


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- accepted -------------------------------------------------------------


def test_it_accepts_several_files_at_once(owner_client, owner, tiny, commit, storage):
    with commit():
        response = upload(owner_client, ("beach.mp4", tiny["mp4"]), ("city.webm", tiny["webm"]))

    assert response.status_code == 302
    assert response["Location"] == "/videos/"
    beach = Video.objects.get(owner=owner, original_name="beach.mp4")
    city = Video.objects.get(owner=owner, original_name="city.webm")
    for video, data, container in ((beach, tiny["mp4"], "mp4"), (city, tiny["webm"], "webm")):
        assert video.status == Video.Status.QUEUED
        assert video.container == container
        assert video.size == len(data)
        assert video.sha256 == sha256(data)
        assert Path(video.file.path).read_bytes() == data
        # Stored under a random name in the video's folder, never under the user's name.
        assert video.file.name.startswith(f"videos/{video.uuid.hex}/source-")
        assert video.file.name.endswith(CONTAINER_EXTENSIONS[container])
    assert sorted(queued()) == sorted([jobs.job_id(beach), jobs.job_id(city)])
    assert len(stored_files(storage)) == 2
    assert said(response) == [
        "beach.mp4 was uploaded; its analysis is queued.",
        "city.webm was uploaded; its analysis is queued.",
    ]


def test_it_answers_htmx_with_the_results_and_tells_the_page(owner_client, owner, tiny, commit):
    with commit():
        response = upload(owner_client, ("beach.mp4", tiny["mp4"]), htmx=True)

    video = Video.objects.get(owner=owner)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "videos-changed"
    html = response.content.decode()
    assert 'class="upload-result accepted"' in html
    assert f'href="{video.get_absolute_url()}"' in html
    assert "beach.mp4" in html
    assert queued() == [jobs.job_id(video)]


def test_it_hashes_a_file_that_spans_many_chunks(owner_client, owner, tiny, commit):
    data = tiny["mp4"] + os.urandom(3 * VideoUploadHandler.chunk_size + 12345)
    with commit():
        upload(owner_client, ("long.mp4", data))
    video = Video.objects.get(owner=owner)
    assert video.size == len(data)
    assert video.sha256 == sha256(data)
    assert Path(video.file.path).read_bytes() == data


@pytest.mark.parametrize("container", sorted(MUXED))
def test_it_accepts_each_container_by_its_bytes_whatever_its_name(owner_client, owner, tiny, container):
    # The name says .bin and the browser says video/mp4: only the bytes count.
    upload(owner_client, ("clip.bin", tiny[container]))
    video = Video.objects.get(owner=owner)
    assert video.container == container
    assert video.file.name.endswith(CONTAINER_EXTENSIONS[container])


def test_it_gives_back_the_existing_video_for_the_same_content(owner_client, owner, tiny, commit, storage):
    with commit():
        upload(owner_client, ("first.mp4", tiny["mp4"]), htmx=True)
    first = Video.objects.get(owner=owner)
    with commit():
        response = upload(owner_client, ("again with another name.mp4", tiny["mp4"]), htmx=True)

    assert Video.objects.filter(owner=owner).count() == 1
    assert queued() == [jobs.job_id(first)]
    assert len(stored_files(storage)) == 1
    assert response.status_code == 200
    assert "HX-Trigger" not in response  # nothing new for the list
    html = response.content.decode()
    assert 'data-code="duplicate"' in html
    assert f'href="{first.get_absolute_url()}"' in html
    assert "Already in your videos as “first.mp4”" in html


def test_it_tells_a_plain_form_post_about_a_duplicate(owner_client, owner, tiny):
    upload(owner_client, ("first.mp4", tiny["mp4"]))
    response = upload(owner_client, ("second.mp4", tiny["mp4"]))
    assert Video.objects.filter(owner=owner).count() == 1
    # The first upload's message is still unread: nothing has shown the page yet.
    assert (
        said(response)[-1] == "second.mp4 is already in your videos as “first.mp4”; nothing new was queued."
    )


def test_it_keeps_another_users_identical_video_apart(owner_client, outsider_client, owner, outsider, tiny):
    upload(owner_client, ("mine.mp4", tiny["mp4"]))
    response = upload(outsider_client, ("theirs.mp4", tiny["mp4"]), htmx=True)

    mine = Video.objects.get(owner=owner)
    theirs = Video.objects.get(owner=outsider)
    assert mine.pk != theirs.pk
    assert mine.file.name != theirs.file.name
    html = response.content.decode()
    assert 'data-code="accepted"' in html
    assert str(theirs.uuid) in html
    assert str(mine.uuid) not in html


def test_it_accepts_a_file_whose_name_is_too_long_for_the_disk(owner_client, owner, tiny):
    name = "holiday." + "x" * 300  # a 300-character "extension" cannot name a temporary file
    response = post_body(owner_client, multipart((name, tiny["mp4"])))
    video = Video.objects.get(owner=owner)
    assert video.original_name == name[:255]  # too long to be an extension: cut as part of the name
    assert said(response) == [f"{name} was uploaded; its analysis is queued."]


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("a" * 296 + ".mp4", "a" * 251 + ".mp4"),
        ("a" * 295 + ".webm", "a" * 250 + ".webm"),
        # Multi-byte characters are counted as characters, and never split.
        ("日本語の動画" * 50 + ".mov", ("日本語の動画" * 50)[:251] + ".mov"),
        # A letter keeps its combining accent (e + U+0301): the cut falls before the letter.
        ("e\u0301" * 150 + ".mkv", "e\u0301" * 125 + ".mkv"),
        # An emoji keeps its skin tone or its variation selector (fewer of them: Django
        # reads at most 1 KiB of a part's headers, and drops ZWJs as non-printable).
        ("x" * 200 + "\U0001f44d\U0001f3fd" * 40 + ".avi", "x" * 200 + "\U0001f44d\U0001f3fd" * 25 + ".avi"),
        ("x" * 200 + "\u2764\ufe0f" * 40 + ".mpg", "x" * 200 + "\u2764\ufe0f" * 25 + ".mpg"),
    ],
    ids=["ascii", "webm", "cjk", "combining-accent", "skin-tone", "variation-selector"],
)
def test_it_keeps_the_extension_of_a_long_name_it_cuts(owner_client, owner, tiny, name, kept):
    response = post_body(owner_client, multipart((name, tiny["mp4"])))
    video = Video.objects.get(owner=owner)
    assert len(name) > 255 >= len(video.original_name)
    assert video.original_name == kept
    assert video.file.name.endswith(".mp4")  # the stored name says what the bytes are
    assert said(response) == [f"{name} was uploaded; its analysis is queued."]


# --- refused --------------------------------------------------------------


def test_it_refuses_an_empty_file(owner_client, storage):
    response = upload(owner_client, ("nothing.mp4", b""))
    assert not Video.objects.exists()
    assert queued() == []
    assert stored_files(storage) == []
    assert said(response) == ["nothing.mp4 was refused: the file is empty."]


def test_it_refuses_a_picture_renamed_mp4(owner_client, png):
    response = upload(owner_client, ("holiday.mp4", png), htmx=True)
    assert response.status_code == 400
    assert not Video.objects.exists()
    assert queued() == []
    html = response.content.decode()
    assert 'data-code="not-video"' in html
    assert "holiday.mp4" in html
    assert "It looks like a PNG picture." in html
    assert "HX-Trigger" not in response


def test_it_refuses_a_web_page_renamed_mp4(owner_client):
    response = upload(owner_client, ("page.mp4", HTML_PAGE))
    assert not Video.objects.exists()
    assert said(response) == [
        "page.mp4 was refused: it is not a video we can read "
        "(MP4, MOV, WebM, MKV, AVI, MPEG-TS or MPEG-PS). It looks like a web page (HTML)."
    ]


def test_it_refuses_a_file_over_the_size_cap(owner_client, settings, tiny, storage):
    settings.MAX_UPLOAD_MB = 1
    big = tiny["mp4"] + b"\0" * (1024 * 1024)
    response = upload(owner_client, ("big.mp4", big))
    assert not Video.objects.exists()
    assert stored_files(storage) == []
    assert said(response) == ["big.mp4 was refused: it is larger than the 1 MB limit."]


def test_it_accepts_the_good_files_of_a_mixed_batch(owner_client, owner, settings, tiny, png, commit):
    settings.MAX_UPLOAD_MB = 1
    with commit():
        response = upload(
            owner_client,
            ("good.mp4", tiny["mp4"]),
            ("empty.mp4", b""),
            ("photo.mp4", png),
            ("page.mp4", HTML_PAGE),
            ("huge.avi", tiny["avi"] + b"\0" * (1024 * 1024)),
            ("also good.mkv", tiny["matroska"]),
            htmx=True,
        )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "videos-changed"
    assert sorted(Video.objects.filter(owner=owner).values_list("original_name", flat=True)) == [
        "also good.mkv",
        "good.mp4",
    ]
    assert len(queued()) == 2
    html = response.content.decode()
    # One verdict per file, in the order they were sent.
    codes = [part.split('"', 1)[0] for part in html.split('data-code="')[1:]]
    assert codes == ["accepted", "empty", "not-video", "not-video", "too-large", "accepted"]
    for name in ("empty.mp4", "photo.mp4", "page.mp4", "huge.avi"):
        assert name in html


def test_it_names_the_files_beyond_the_per_request_cap(owner_client, owner, settings, tiny):
    settings.MAX_FILES_PER_UPLOAD = 2
    files = [(f"part{i}.mp4", tiny["mp4"] + bytes([i])) for i in range(4)]
    response = upload(owner_client, *files)

    names = sorted(Video.objects.filter(owner=owner).values_list("original_name", flat=True))
    assert names == ["part0.mp4", "part1.mp4"]
    assert said(response)[-1] == (
        "You can upload at most 2 files at a time; these were not uploaded: part2.mp4, part3.mp4."
    )


def test_it_answers_clearly_beyond_djangos_own_file_cap(owner_client, settings, tiny):
    settings.MAX_FILES_PER_UPLOAD = 2
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    response = upload(
        owner_client, *[(f"part{i}.mp4", tiny["mp4"] + bytes([i])) for i in range(5)], htmx=True
    )
    assert response.status_code == 400
    assert not Video.objects.exists()
    assert "You can upload at most 2 files at a time." in response.content.decode()


def test_it_asks_for_files_when_none_were_sent(owner_client):
    response = owner_client.post(URL, {}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "Choose one or more video files to upload." in response.content.decode()


CUT_OFF = "the upload stopped before the file ended; nothing of it was kept. Please try again."


def test_it_says_when_the_upload_stopped_before_the_file_ended(owner_client, tiny, storage):
    body = multipart(("t.mp4", tiny["mp4"]), cut=len(tiny["mp4"]) // 2)
    response = post_body(owner_client, body, htmx=True)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-code="cut-off"' in html
    assert f"Refused: {CUT_OFF}" in html

    response = post_body(owner_client, body)
    assert said(response) == [f"t.mp4 was refused: {CUT_OFF}"]
    assert not Video.objects.exists()
    assert stored_files(storage) == []
    assert queued() == []


def test_it_keeps_the_whole_files_before_the_one_cut_off(owner_client, owner, tiny, storage):
    body = multipart(("whole.mp4", tiny["mp4"]), ("cut.webm", tiny["webm"]), cut=10)
    response = post_body(owner_client, body, htmx=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert [part.split('"', 1)[0] for part in html.split('data-code="')[1:]] == ["accepted", "cut-off"]
    assert f"Refused: {CUT_OFF}" in html
    video = Video.objects.get(owner=owner)
    assert video.original_name == "whole.mp4"
    assert video.sha256 == sha256(tiny["mp4"])
    assert stored_files(storage) == [Path(video.file.path)]


def test_it_answers_a_malformed_body_with_a_message(owner_client):
    response = owner_client.post(URL, b"--x\r\nnot really", content_type="multipart/form-data")
    assert response.status_code == 302
    assert said(response) == ["The upload could not be read. Please try again."]
    assert not Video.objects.exists()


def test_it_says_when_a_file_could_not_be_stored(owner_client, settings, tmp_path, tiny):
    # Storage that cannot create its folders: a file stands where MEDIA_ROOT should be.
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    settings.MEDIA_ROOT = str(blocked)
    response = upload(owner_client, ("beach.mp4", tiny["mp4"]), htmx=True)
    assert response.status_code == 400
    assert not Video.objects.exists()
    assert "beach.mp4" in response.content.decode()
    assert "could not be saved because of a problem on our side" in response.content.decode()


# --- the handler on its own -----------------------------------------------


def test_it_stops_writing_a_file_as_soon_as_it_passes_the_cap(settings, tiny):
    settings.MAX_UPLOAD_MB = 1
    handler = VideoUploadHandler()
    handler.new_file("files", "big.mp4", "video/mp4", None)
    chunk = (tiny["mp4"] + b"\0" * handler.chunk_size)[: handler.chunk_size]
    path = handler.file.temporary_file_path()
    for _ in range(4):  # exactly 1 MiB is allowed
        handler.receive_data_chunk(chunk, 0)
    with pytest.raises(SkipFile):
        handler.receive_data_chunk(chunk, 0)
    assert os.path.getsize(path) <= 1024 * 1024
    assert handler.received[0].refusal == "too-large"
    handler.discard()
    assert not os.path.exists(path)


def test_it_stops_writing_a_file_that_is_not_a_video_after_its_first_bytes(png):
    handler = VideoUploadHandler()
    handler.new_file("files", "photo.mp4", "video/mp4", None)
    path = handler.file.temporary_file_path()
    with pytest.raises(SkipFile):
        handler.receive_data_chunk((png * 100)[: SNIFF_BYTES * 4], 0)
    assert os.path.getsize(path) == 0
    handler.discard()
    assert not os.path.exists(path)


# --- who may upload, how often ---------------------------------------------


def test_it_sends_an_anonymous_post_to_log_in_and_stores_nothing(client, tiny, storage):
    response = upload(client, ("beach.mp4", tiny["mp4"]))
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/videos/"
    response = upload(client, ("beach.mp4", tiny["mp4"]), htmx=True)
    assert response.status_code == 403
    assert not Video.objects.exists()
    assert stored_files(storage) == []
    assert queued() == []


def test_it_checks_the_csrf_token_after_streaming(owner, tiny):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    response = upload(browser, ("beach.mp4", tiny["mp4"]))
    assert response.status_code == 403
    assert not Video.objects.exists()

    token = secrets.token_hex(16)  # a 32-character secret, as the cookie holds it
    browser.cookies["csrftoken"] = token
    upload(browser, ("header.mp4", tiny["mp4"]), **{"X-CSRFToken": token})
    data = {"csrfmiddlewaretoken": token, "files": [SimpleUploadedFile("form.mp4", tiny["webm"])]}
    browser.post(URL, data)
    assert sorted(Video.objects.values_list("original_name", flat=True)) == ["form.mp4", "header.mp4"]


def test_it_rate_limits_a_flood_of_uploads(owner_client, owner, settings, tiny):
    settings.RATELIMIT_UPLOAD_USER = "2/d"
    upload(owner_client, ("one.mp4", tiny["mp4"]))
    upload(owner_client, ("two.webm", tiny["webm"]))
    response = upload(owner_client, ("three.avi", tiny["avi"]), htmx=True)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many uploads" in response.content.decode()
    assert 'href="/videos/"' in response.content.decode()  # back to the page, not the POST-only URL
    assert sorted(Video.objects.filter(owner=owner).values_list("original_name", flat=True)) == [
        "one.mp4",
        "two.webm",
    ]


def test_it_only_takes_posts(owner_client):
    assert owner_client.get(URL).status_code == 405


# --- escaping ---------------------------------------------------------------


def test_it_escapes_file_names_everywhere(owner_client, owner, tiny, png):
    response = upload(owner_client, (SCRIPT_NAME, tiny["mp4"]), (SCRIPT_NAME, png), htmx=True)
    html = response.content.decode()
    assert "<script" not in html
    assert html.count("&lt;script&gt;alert(&quot;owned&quot;)&lt;script&gt;.mp4") == 2
    video = Video.objects.get(owner=owner)
    assert video.original_name == SCRIPT_NAME  # kept as given, escaped when shown
    assert "<script" not in video.file.name

    response = upload(owner_client, (SCRIPT_NAME, png))
    # Messages are plain text, escaped by the page that shows them.
    assert said(response)[0].startswith(SCRIPT_NAME)
    page = owner_client.get("/accounts/profile/")
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;script&gt;.mp4 was refused" in page.content.decode()
    assert "<script>alert" not in page.content.decode()


# --- through the real server ------------------------------------------------


@pytest.mark.slow
def test_it_receives_uploads_intact_through_daphne(live_server_url, owner, tiny):
    """Daphne feeds the body in chunks (videochat/serving.py); every byte must arrive."""
    session = Client()
    session.force_login(owner)  # the session lives in Redis, which the server shares
    token = secrets.token_hex(16)
    big = tiny["mp4"] + os.urandom(3 * 1024 * 1024 + 77)
    boundary = "----upload" + secrets.token_hex(8)
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
            for name, data in (("big.mp4", big), ("small.webm", tiny["webm"]))
        )
        + f"--{boundary}--\r\n".encode()
    )
    host, port = live_server_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Cookie": f"sessionid={session.cookies['sessionid'].value}; csrftoken={token}",
        "X-CSRFToken": token,
        "HX-Request": "true",
    }
    conn.request("POST", URL, body=body, headers=headers)
    response = conn.getresponse()
    html = response.read().decode()

    assert response.status == 200, html
    assert html.count('data-code="accepted"') == 2
    videos = {video.original_name: video for video in Video.objects.filter(owner=owner)}
    assert videos["big.mp4"].sha256 == sha256(big)
    assert videos["big.mp4"].size == len(big)
    assert videos["small.webm"].sha256 == sha256(tiny["webm"])


# --- in a real browser ------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_each_file_has_its_own_progress_bar_in_the_browser(
    transactional_db, browser_page, make_user, tmp_path, tiny, png
):
    from testkit.live import daphne_server

    owner = make_user("uploader@example.com")
    files = {
        "beach.mp4": tiny["mp4"] + os.urandom(3 * 1024 * 1024),
        "city.webm": tiny["webm"],
        "photo.mp4": png,
        "huge.mp4": tiny["mp4"] + bytes(6 * 1024 * 1024),  # over the 5 MB cap below
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    page = browser_page

    with daphne_server(MEDIA_ROOT=str(tmp_path / "media"), MAX_UPLOAD_MB="5") as url:
        page.goto(f"{url}/accounts/login/")
        page.fill("#id_username", owner.email)
        page.fill("#id_password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(f"{url}/")
        page.goto(f"{url}/videos/")
        page.evaluate(
            """() => {
              window.progressSeen = {}; window.videosChanged = 0;
              document.addEventListener("htmx:xhr:progress", (event) => {
                const name = event.target.querySelector(".upload-name").textContent;
                const bar = event.target.querySelector("progress");
                window.progressSeen[name] = Math.max(window.progressSeen[name] || 0, bar.value);
              });
              document.body.addEventListener("videos-changed", () => { window.videosChanged += 1; });
            }"""
        )
        # Chosen with the file picker...
        page.set_input_files("#upload-files", [str(tmp_path / name) for name in files])
        # ...and dropped on the drop zone.
        page.evaluate(
            """(bytes) => {
              const transfer = new DataTransfer();
              transfer.items.add(new File([new Uint8Array(bytes)], "dropped.avi"));
              const zone = document.querySelector("[data-drop-zone]");
              zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
            }""",
            list(tiny["avi"]),
        )
        page.locator(".upload-result").nth(3).wait_for()  # (wait_for_function would need eval: CSP)

        # Each file sent had its own bar, filled by its own upload's progress events.
        assert page.evaluate("window.progressSeen") == {
            "beach.mp4": 100,
            "city.webm": 100,
            "photo.mp4": 100,
            "dropped.avi": 100,
        }
        # Each accepted upload's answer tells the list (and the server's push, meant for
        # other tabs, may tell it again once this page's socket is open).
        assert 3 <= page.evaluate("window.videosChanged") <= 6
        assert page.locator(".upload-result.accepted").count() == 3
        refused = page.inner_text(".upload-result.refused")
        assert "photo.mp4" in refused
        assert "It looks like a PNG picture." in refused
        # The file over the cap was refused in the page, without sending it.
        assert "larger than the 5 MB limit" in page.inner_text(".upload-item.refused")
        assert sorted(Video.objects.filter(owner=owner).values_list("original_name", flat=True)) == [
            "beach.mp4",
            "city.webm",
            "dropped.avi",
        ]
        assert [m for m in page.console_messages if "Content Security Policy" in m or "Refused to" in m] == []
