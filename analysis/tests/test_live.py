"""What video pages and pushes carry so a page converges: versions, list events, live regions."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.core.files import File
from django.urls import reverse

from analysis import services
from analysis.live import render_status
from analysis.models import Video
from chat.tests.test_replies import _drain, _socket

pytestmark = pytest.mark.django_db


def test_every_state_change_of_a_video_raises_its_version(owner, clips, make_video):
    video = make_video(owner, clips["short"].path)
    seen = [video.version]
    for change in (
        video.mark_processing,
        lambda: video.set_progress(40, "Finding scenes"),
        video.mark_retrying,
        video.mark_processing,
        video.mark_done,
        video.mark_queued,
        lambda: video.mark_failed("broken"),
    ):
        change()
        seen.append(video.version)
    video.refresh_from_db()
    assert seen == sorted(set(seen))
    assert video.version == seen[-1]


def test_the_status_badge_carries_the_version(owner, clips, make_video):
    video = make_video(owner, clips["short"].path)
    video.set_progress(30, "Reading frames")
    html = render_status(video)
    assert f'id="video-{video.uuid}-status"' in html
    assert f'data-version="{video.version}"' in html


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_uploads_and_deletes_tell_the_owner_s_lists(owner_client, owner, outsider_client, clips):
    mine, theirs = _socket(owner_client), _socket(outsider_client)

    def upload() -> Video:
        with open(clips["short"].path, "rb") as fh:
            video, created = services.video_create(
                owner=owner,
                file=File(fh),
                original_name="short.mp4",
                size=1,
                sha256="c" * 64,
                container="mp4",
            )
        assert created
        return video

    try:
        assert (await mine.connect())[0]
        assert (await theirs.connect())[0]
        video = await database_sync_to_async(upload)()
        await database_sync_to_async(services.video_delete)(video=video)
        received = await _drain(mine)
        assert await theirs.receive_nothing(timeout=0.3)
    finally:
        await mine.disconnect()
        await theirs.disconnect()
    assert received.count('<div data-event="videos-changed"></div>') == 2


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_re_analyse_pushes_the_queued_status(owner_client, owner, clips, make_video):
    video = await database_sync_to_async(make_video)(owner, clips["short"].path, status=Video.Status.DONE)
    socket = _socket(owner_client)
    try:
        assert (await socket.connect())[0]
        await database_sync_to_async(services.video_reanalyze)(video=video)
        received = await _drain(socket)
    finally:
        await socket.disconnect()
    pushed = [html for html in received if f'id="video-{video.uuid}-status"' in html]
    assert len(pushed) == 1
    assert 'data-status="queued"' in pushed[0]
    assert f'data-version="{video.version}"' in pushed[0]


def test_the_first_page_of_videos_listens_for_new_videos_and_later_pages_do_not(
    owner_client, owner, clips, make_video, monkeypatch
):
    from analysis import selectors

    monkeypatch.setattr(selectors, "VIDEOS_PER_PAGE", 1)
    make_video(owner, clips["short"].path)
    make_video(owner, clips["other"].path)
    first = owner_client.get(reverse("analysis:video-list")).content.decode()
    second = owner_client.get(reverse("analysis:video-list") + "?page=2").content.decode()
    assert "videos-changed from:body" in first
    assert "videos-changed from:body" not in second
    assert "live-open from:body" in second


def test_the_home_page_lists_read_themselves_again(owner_client, owner, clips, make_video):
    make_video(owner, clips["short"].path)
    page = owner_client.get("/").content.decode()
    assert 'hx-get="/?part=videos"' in page
    assert 'hx-get="/?part=conversations"' in page
    videos = owner_client.get("/?part=videos", HTTP_HX_REQUEST="true").content.decode()
    assert "short.mp4" in videos
    assert "<html" not in videos
    conversations = owner_client.get("/?part=conversations", HTTP_HX_REQUEST="true").content.decode()
    assert "No conversations yet" in conversations
