"""Private media: the video and its pictures, to their owner only, with HTTP Range."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from analysis.media import parse_range
from analysis.models import Video
from analysis.tests.test_pages import make_analysis

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(owner, clips, make_video):
    video = make_video(owner, clips["short"].path, name="holiday.mp4")
    make_analysis(video)
    video.mark_done()
    return video


@pytest.fixture
def data(video) -> bytes:
    return Path(video.file.path).read_bytes()


def _file_url(video: Video) -> str:
    return reverse("analysis:video-file", args=[video.uuid])


def _media_url(video: Video, name: str) -> str:
    return reverse("analysis:video-media", args=[video.uuid, name])


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _assert_private(response) -> None:
    assert response["Accept-Ranges"] == "bytes"
    assert response["Cache-Control"].startswith("private")
    assert response["X-Content-Type-Options"] == "nosniff"


# --- the video file ------------------------------------------------------------------


def test_it_serves_the_whole_file_to_its_owner(owner_client, video, data):
    response = owner_client.get(_file_url(video))

    assert response.status_code == 200
    assert response.streaming
    assert _body(response) == data
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Type"] == "video/mp4"
    assert response["ETag"] == f'"{video.sha256}"'
    assert response["Content-Disposition"] == 'inline; filename="holiday.mp4"'
    assert "Content-Range" not in response
    _assert_private(response)


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, None),
        ("bytes=-50", -50, None),
        ("bytes=10-10", 10, 10),
        ("bytes=1000-99999999999", 1000, None),
    ],
)
def test_it_serves_a_byte_range(owner_client, video, data, header, first, last):
    response = owner_client.get(_file_url(video), headers={"Range": header})

    expected = data[first : None if last is None else last + 1]
    start = first % len(data)
    assert response.status_code == 206
    assert _body(response) == expected
    assert response["Content-Length"] == str(len(expected))
    assert response["Content-Range"] == f"bytes {start}-{start + len(expected) - 1}/{len(data)}"
    _assert_private(response)


@pytest.mark.parametrize("header", ["bytes={size}-", "bytes={size}-{more}", "bytes=-0"])
def test_it_answers_416_to_an_unsatisfiable_range(owner_client, video, data, header):
    header = header.format(size=len(data), more=len(data) + 10)
    response = owner_client.get(_file_url(video), headers={"Range": header})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(data)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=9-3", "items=0-5", "bytes=abc", "bytes=-"])
def test_it_ignores_a_range_it_does_not_serve(owner_client, video, data, header):
    response = owner_client.get(_file_url(video), headers={"Range": header})
    assert response.status_code == 200
    assert _body(response) == data


def test_it_honours_if_range(owner_client, video, data):
    stale = owner_client.get(_file_url(video), headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200
    assert _body(stale) == data
    fresh = owner_client.get(
        _file_url(video), headers={"Range": "bytes=0-9", "If-Range": f'"{video.sha256}"'}
    )
    assert fresh.status_code == 206
    assert _body(fresh) == data[:10]


def test_it_answers_head_without_a_body(owner_client, video, data):
    response = owner_client.head(_file_url(video), headers={"Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response["Content-Length"] == "10"
    assert response.content == b""


def test_the_file_is_a_404_to_anyone_else(client, outsider_client, video):
    assert outsider_client.get(_file_url(video)).status_code == 404
    assert outsider_client.get(_file_url(video), headers={"Range": "bytes=0-9"}).status_code == 404
    # Anonymous visitors get the same 404, not a log-in page that would confirm the video exists.
    assert client.get(_file_url(video)).status_code == 404


def test_a_missing_file_is_a_404_not_a_500(owner_client, video):
    default_storage.delete(video.file.name)
    assert owner_client.get(_file_url(video)).status_code == 404


def test_it_refuses_other_methods(owner_client, video):
    assert owner_client.post(_file_url(video)).status_code == 405


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_it_streams_chunk_by_chunk_under_asgi(async_client, owner, clips, make_video):
    """Under ASGI the body must be an async iterator, or Django would read the file whole."""
    from asgiref.sync import sync_to_async

    video = await sync_to_async(make_video)(owner, clips["short"].path)
    await async_client.aforce_login(owner)
    data = Path(video.file.path).read_bytes()

    response = await async_client.get(_file_url(video), headers={"Range": "bytes=5-"})

    assert response.status_code == 206
    assert response.is_async
    assert b"".join([chunk async for chunk in response.streaming_content]) == data[5:]


# --- pictures ------------------------------------------------------------------------


def test_it_serves_each_picture_of_an_analysis(owner_client, video):
    analysis = video.analyses.get()
    names = analysis.media_names()
    assert len(names) == 5  # poster, storyboard, three scene thumbnails
    for name in names:
        response = owner_client.get(_media_url(video, name))
        assert response.status_code == 200, name
        assert response["Content-Type"] == "image/jpeg"
        assert _body(response) == default_storage.open(name).read()
        assert response["Cache-Control"] == "private, max-age=3600"
        _assert_private(response)


def test_it_serves_pictures_of_earlier_analyses(owner_client, video):
    earlier = make_analysis(video)
    assert owner_client.get(_media_url(video, earlier.poster)).status_code == 200


def test_it_serves_a_range_of_a_picture(owner_client, video):
    poster = video.analyses.get().poster
    response = owner_client.get(_media_url(video, poster), headers={"Range": "bytes=-2"})
    assert response.status_code == 206
    assert _body(response) == b"\xff\xd9"  # the JPEG end marker


def test_pictures_are_a_404_to_anyone_else(client, outsider_client, video):
    poster = video.analyses.get().poster
    assert outsider_client.get(_media_url(video, poster)).status_code == 404
    assert client.get(_media_url(video, poster)).status_code == 404


def test_it_serves_only_names_that_belong_to_the_video(owner_client, owner, video, clips, make_video):
    other = make_video(owner, clips["other"].path)
    other_poster = make_analysis(other).poster
    folder = video.analyses.get().poster.rsplit("/", 1)[0]
    refused = [
        other_poster,  # the same owner's other video: not through this one's URL
        video.file.name,  # the source is served by the file view, not as a picture
        f"{folder}/../../../../conftest.py",
        f"{folder}/%2e%2e/poster.jpg",
        "../../../etc/passwd",
        f"{folder}/nope.jpg",
    ]
    for name in refused:
        assert owner_client.get(_media_url(video, name)).status_code == 404, name
    # The owner's other video serves its own poster through its own URL.
    assert owner_client.get(_media_url(other, other_poster)).status_code == 200


def test_a_path_with_dot_segments_is_a_404(owner_client, video):
    url = _file_url(video).removesuffix("file") + "media/..%2F..%2Fmanage.py"
    assert owner_client.get(url).status_code == 404


# --- the Range parser ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", (0, 0)),
        ("bytes=0-", (0, 99)),
        ("bytes=-1", (99, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=90-200", (90, 99)),
        (" bytes = 1 - 2 ", (1, 2)),
        ("bytes=2-1", None),
        ("bytes=1-2, 4-5", None),
        ("bytes=", None),
        ("chars=1-2", None),
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=-5", 0), ("bytes=0-", 0)]
)
def test_parse_range_unsatisfiable(header, size):
    from analysis.media import RangeNotSatisfiable

    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)
