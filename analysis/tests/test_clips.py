"""Clips end to end below the browser: the form, the job on the `low` queue, the files, the 404s."""

from __future__ import annotations

import re

import django_rq
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from analysis import clip_jobs, services
from analysis.models import Analysis, Clip, TranscriptSegment
from analysis.tests.numbered import FPS, frame_numbers, make_numbered
from core.jobs import kinds


@pytest.fixture
def video(owner, make_video, tmp_path):
    video = make_video(owner, make_numbered(tmp_path / "numbered.mp4"), name="budget meeting.mp4")
    analysis = Analysis.objects.create(
        video=video, analyzer=Analysis.LOCAL, analyzer_version="t", metadata={"duration": 6.0}, wall_time=0.1
    )
    TranscriptSegment.objects.create(analysis=analysis, start=1.5, end=2.0, text="the budget")
    video.mark_done()
    return video


def _post(client, video, **fields):
    data = {"start": "1", "end": "2.5", "mode": "exact", "animated_preview": "on", **fields}
    return client.post(reverse("analysis:clip-create", args=[video.uuid]), data)


def test_the_clip_kind_is_registered_on_the_low_queue():
    kind = next(k for k in kinds() if k.name == "clip")
    assert kind is clip_jobs.CLIP
    assert kind.queue == "low"


def test_it_queues_a_clip_on_the_low_queue(owner_client, video, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(owner_client, video, captions="on")
    assert response.status_code == 302
    clip = Clip.objects.get(video=video)
    assert (clip.start, clip.end, clip.mode, clip.captions) == (1.0, 2.5, "exact", True)
    assert clip.status == Clip.Status.QUEUED
    assert clip_jobs.CLIP.job_id(clip) in django_rq.get_queue("low").job_ids


def test_the_job_cuts_the_clip_and_the_owner_can_play_it_with_range(owner_client, outsider_client, video):
    clip = services.clip_create(
        video=video, start=1.0, end=2.5, mode="exact", captions=True, animated_preview=True
    )
    assert clip_jobs.cut_clip(clip.pk) == "done"
    clip.refresh_from_db()
    assert (clip.status, clip.progress, clip.start_used) == (Clip.Status.DONE, 100, 1.0)
    assert default_storage.exists(clip.file)
    assert default_storage.exists(clip.preview)
    numbers = frame_numbers(default_storage.path(clip.file))
    assert abs(numbers[0] - FPS) <= 1
    assert abs(numbers[-1] - (round(2.5 * FPS) - 1)) <= 1

    url = reverse("analysis:clip-file", args=[clip.uuid])
    response = owner_client.get(url, HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206
    assert len(b"".join(response.streaming_content)) == 100
    assert outsider_client.get(url).status_code == 404
    assert outsider_client.get(reverse("analysis:clip-preview", args=[clip.uuid])).status_code == 404
    assert owner_client.get(reverse("analysis:clip-preview", args=[clip.uuid])).status_code == 200
    page = owner_client.get(reverse("analysis:clip-list"))
    assert str(clip.uuid) in page.content.decode()
    assert outsider_client.get(reverse("analysis:clip-list")).content.decode().count(str(clip.uuid)) == 0


def test_a_fast_clip_names_the_keyframe_it_starts_at(owner_client, video):
    clip = services.clip_create(
        video=video, start=2.5, end=4.0, mode="fast", captions=False, animated_preview=False
    )
    assert clip_jobs.cut_clip(clip.pk) == "done"
    clip.refresh_from_db()
    assert clip.start_used == pytest.approx(2.0, abs=0.01)
    assert clip.preview == ""
    page = owner_client.get(video.get_absolute_url()).content.decode()
    assert "starts at the keyframe at 2.00 s" in page


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"start": "3", "end": "2"}, "must end after it starts"),
        ({"start": "1", "end": "1"}, "must end after it starts"),
        ({"start": "1", "end": "9"}, "only 6.00 seconds long"),
        ({"start": "-1", "end": "2"}, "Give a time"),
        ({"start": "nan", "end": "2"}, "Give a time"),
        ({"start": "1:xx", "end": "2"}, "Give a time"),
        ({"start": "1", "end": "2", "mode": "slow"}, "Select a valid choice"),
        ({"start": "1", "end": "2", "mode": "fast", "captions": "on"}, "captions need an exact cut"),
        ({"start": "", "end": ""}, "required"),
    ],
)
def test_it_refuses_a_bad_range_with_a_clear_message(owner_client, video, fields, words):
    response = _post(owner_client, video, **fields)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not Clip.objects.exists()


def test_it_refuses_a_clip_longer_than_the_setting(owner_client, video, settings):
    settings.CLIP_MAX_SECONDS = 2
    response = _post(owner_client, video, start="0", end="0:03")
    assert response.status_code == 400
    assert "at most 2 seconds" in response.content.decode()


def test_it_rate_limits_clips(owner_client, video, settings):
    settings.RATELIMIT_CLIP_USER = "2/h"
    assert [_post(owner_client, video).status_code for _ in range(3)] == [302, 302, 429]
    assert Clip.objects.count() == 2


def test_a_strangers_video_and_clip_are_404(outsider_client, video):
    assert _post(outsider_client, video).status_code == 404
    clip = services.clip_create(
        video=video, start=1, end=2, mode="fast", captions=False, animated_preview=False
    )
    response = outsider_client.post(reverse("analysis:clip-delete", args=[clip.uuid]))
    assert response.status_code == 404
    assert Clip.objects.filter(pk=clip.pk).exists()


def test_deleting_a_clip_or_its_video_deletes_the_files(
    owner_client, video, django_capture_on_commit_callbacks
):
    first = services.clip_create(
        video=video, start=1, end=2, mode="fast", captions=False, animated_preview=True
    )
    second = services.clip_create(
        video=video, start=3, end=4, mode="fast", captions=False, animated_preview=False
    )
    clip_jobs.cut_clip(first.pk), clip_jobs.cut_clip(second.pk)
    first.refresh_from_db(), second.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("analysis:clip-delete", args=[first.uuid]))
    assert not Clip.objects.filter(pk=first.pk).exists()
    assert not any(default_storage.exists(n) for n in first.media_names())
    assert default_storage.exists(second.file)
    with django_capture_on_commit_callbacks(execute=True):
        services.video_delete(video=video)
    assert not Clip.objects.exists()
    assert not any(default_storage.exists(n) for n in second.media_names())


def test_recovery_requeues_a_lost_clip(video):
    clip = services.clip_create(
        video=video, start=1, end=2, mode="fast", captions=False, animated_preview=False
    )
    # Nothing was queued (no commit in this test): recovery finds it lost and queues it.
    assert clip in clip_jobs.CLIP.recover()
    assert clip_jobs.CLIP.job_id(clip) in django_rq.get_queue("low").job_ids


def test_it_pushes_the_clips_state_to_the_owner_only_with_rising_versions(owner, outsider, video):
    import asyncio
    import re

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from analysis.live import CLIPS_CHANGED
    from core.consumers import event_html, user_group

    layer = get_channel_layer()
    mine, theirs = async_to_sync(layer.new_channel)(), async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(owner.pk), mine)
    async_to_sync(layer.group_add)(user_group(outsider.pk), theirs)
    clip = services.clip_create(
        video=video, start=1, end=2, mode="fast", captions=False, animated_preview=False
    )
    clip_jobs.cut_clip(clip.pk)
    finished = Clip.objects.get(pk=clip.pk)
    services.clip_delete(clip=finished)

    async def drain(channel: str) -> list[str]:
        got = []
        while True:
            try:
                got.append((await asyncio.wait_for(layer.receive(channel), timeout=0.5))["html"])
            except TimeoutError:
                return got

    got = async_to_sync(drain)(mine)
    # First the owner's open clip lists hear of the new clip, then its status moves on,
    # and they hear of its delete.
    assert got[0] == got[-1] == event_html(CLIPS_CHANGED)
    pushed = got[1:-1]
    assert len(pushed) >= 3
    assert all(f'id="clip-{clip.uuid}-status"' in html for html in pushed)
    versions = [int(re.search(r'data-version="(\d+)"', html)[1]) for html in pushed]
    assert versions == sorted(versions)
    assert 'data-finished="true"' in pushed[-1]
    assert reverse("analysis:clip-file", args=[clip.uuid]) in pushed[-1]  # the player comes with it
    assert async_to_sync(drain)(theirs) == []


def test_one_click_on_a_scene_makes_a_clip_of_it(owner_client, video, django_capture_on_commit_callbacks):
    analysis = video.latest_analysis
    analysis.scenes = [{"index": 1, "start": 0.0, "end": 2.0}, {"index": 2, "start": 2.0, "end": 6.0}]
    analysis.save(update_fields=["scenes"])
    page = owner_client.get(video.get_absolute_url()).content.decode()
    forms = re.findall(r'<form method="post" action="([^"]+)" class="scene-clip">(.*?)</form>', page, re.S)
    assert len(forms) == 2
    action, body = forms[1]
    data = dict(re.findall(r'name="(\w+)" value="([^"]*)"', body))
    assert (data["start"], data["end"], data["mode"]) == ("2.0", "6.0", "exact")
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(action, data).status_code == 302
    clip = Clip.objects.get()
    assert (clip.start, clip.end) == (2.0, 6.0)


def test_the_transcript_lines_chosen_make_a_clip_from_the_first_start_to_the_last_end(
    owner_client, video, django_capture_on_commit_callbacks
):
    analysis = video.latest_analysis
    TranscriptSegment.objects.create(analysis=analysis, start=2.5, end=3.25, text="is settled")
    TranscriptSegment.objects.create(analysis=analysis, start=4.0, end=5.5, text="next item")
    page = owner_client.get(video.get_absolute_url()).content.decode()
    form = re.search(r'<form method="post" action="([^"]+)" class="transcript-clip">(.*?)</form>', page, re.S)
    assert form is not None, "the transcript is no form"
    lines = re.findall(r'name="line" value="([^"]+)"', form.group(2))
    assert lines == ["1.5", "2.5", "4.0"]
    data = {"line": lines[:2], "mode": "exact", "animated_preview": "on", "captions": "on"}
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(form.group(1), data).status_code == 302
    clip = Clip.objects.get()
    assert (clip.start, clip.end, clip.captions) == (1.5, 3.25, True)


def test_choosing_no_transcript_line_says_so(owner_client, video):
    response = owner_client.post(
        reverse("analysis:clip-create", args=[video.uuid]), {"line": ["9.9"], "mode": "exact"}
    )
    assert response.status_code == 400
    assert "Choose one or more lines of the transcript to clip." in response.content.decode()
    assert not Clip.objects.exists()


def test_a_search_hit_links_to_the_clip_form_filled_with_its_moment(owner_client, video):
    page = owner_client.get(reverse("analysis:video-list"), {"q": "budget"}).content.decode()
    link = re.search(r'<a class="clip-moment" href="([^"]+)"', page)
    assert link is not None, "no “Clip this moment” on the hit"
    form = owner_client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert (
        'name="start" hx-preserve inputmode="decimal" maxlength="16" placeholder="1:10" required\n           value="1.5"'
        in form
    )
    assert 'value="2.0"' in form
    assert f'action="{reverse("analysis:clip-create", args=[video.uuid])}"' in form


def test_the_assistants_clip_offer_opens_the_clip_form_for_its_video(owner_client, outsider_client, video):
    from chat.markdown import render_markdown

    html = render_markdown(f"([clip 00:01–00:02](clip:{video.uuid}/1.50-2.00))")  # noqa: RUF001
    href = re.search(r'href="([^"]+)" class="clip-offer"', html).group(1).replace("&amp;", "&")
    form = owner_client.get(href).content.decode()
    assert 'value="1.50"' in form
    assert 'value="2.00"' in form
    assert outsider_client.get(href).status_code == 404  # a stranger's video is no one's to clip


def test_staff_see_clips_in_admin_and_deleting_one_there_deletes_its_files(
    staff_client, video, django_capture_on_commit_callbacks
):
    clip = services.clip_create(
        video=video, start=1.0, end=2.0, mode="fast", captions=False, animated_preview=False
    )
    assert clip_jobs.cut_clip(clip.pk) == "done"
    clip.refresh_from_db()
    listing = staff_client.get(reverse("admin:analysis_clip_changelist"), {"q": video.owner.email})
    assert listing.status_code == 200
    assert "budget meeting.mp4" in listing.content.decode()
    assert staff_client.get(reverse("admin:analysis_clip_change", args=[clip.pk])).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:analysis_clip_delete", args=[clip.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Clip.objects.exists()
    assert not default_storage.exists(clip.file)


def test_the_live_clip_list_rereads_itself_as_a_fragment(owner_client, outsider_client, video):
    clip = services.clip_create(
        video=video, start=1, end=2, mode="fast", captions=False, animated_preview=False
    )
    url = reverse("analysis:clip-list") + f"?video={video.uuid}"
    page = owner_client.get(video.get_absolute_url()).content.decode()
    assert f'hx-get="{url}"' in page
    assert 'hx-trigger="clips-changed from:body, live-open from:body"' in page
    fragment = owner_client.get(url, HTTP_HX_REQUEST="true")
    assert fragment["Vary"] == "HX-Request" or "HX-Request" in fragment["Vary"]
    body = fragment.content.decode()
    assert f'id="clip-{clip.uuid}-status"' in body
    assert "<html" not in body
    assert 'name="start"' not in body  # the form being typed in is left alone
    assert outsider_client.get(url, HTTP_HX_REQUEST="true").status_code == 404
