"""The video list and the video page, re-analyse and delete, as their owner and as others see them."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import django_rq
import pytest
from django.core.cache import cache as django_cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from analysis import cache, charts, jobs, selectors, services
from analysis.models import Analysis, Video
from analysis.templatetags.video_tags import mmss

pytestmark = pytest.mark.django_db

SCRIPT_NAME = '<script>alert("x")</script>.mp4'


def _jpeg(color: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", quality=80)
    return out.getvalue()


def make_analysis(
    video: Video, *, duration: float = 6.0, age: timedelta = timedelta(0), **fields
) -> Analysis:
    """An Analysis row shaped like the local analyzer's, with its pictures in storage."""
    created = timezone.now() - age
    prefix = f"{video.media_prefix}/analysis-{created:%Y%m%d%H%M%S%f}"

    def save(name: str, data: bytes) -> str:
        return default_storage.save(f"{prefix}/{name}", ContentFile(data))

    cuts = [0.0, 2.0, 4.0, duration]
    scenes = [
        {
            "index": n,
            "start": start,
            "end": end,
            "thumbnail": save(f"scene-{n:03d}.jpg", _jpeg((40 * n, 80, 160), (64, 36))),
        }
        for n, (start, end) in enumerate(pairwise(cuts), start=1)
    ]
    seconds = max(1, round(duration))
    defaults = {
        "analyzer": "local",
        "analyzer_version": "1.0",
        "metadata": {
            "container": "mp4",
            "duration": duration,
            "video_codec": "h264",
            "width": 320,
            "height": 180,
            "frame_rate": 25.0,
            "bit_rate": 412_000,
            "rotation": 0,
            "audio_codec": "aac",
            "audio_channels": 2,
            "audio_sample_rate": 44100,
            "file_size": video.size,
            "has_audio": True,
        },
        "scenes": scenes,
        "timelines": {
            "brightness": [100.0 + 10 * (i % 3) for i in range(seconds)],
            "motion": [0.0] + [2.5 * (i % 4) for i in range(1, seconds)],
            "loudness": [-21.0 if i % 3 else -91.0 for i in range(seconds)],
        },
        "silences": [{"start": 3.0, "end": 4.5}],
        "storyboard": {
            "columns": 6,
            "rows": 1,
            "tile_width": 80,
            "tile_height": 45,
            "interval": 1.0,
            "count": 6,
        },
        "poster": save("poster.jpg", _jpeg((200, 120, 40), (160, 90))),
        "storyboard_image": save("storyboard.jpg", _jpeg((30, 30, 30), (480, 45))),
        "wall_time": 0.84,
        "created_at": created,
    }
    defaults.update(fields)
    return Analysis.objects.create(video=video, **defaults)


@pytest.fixture
def done_video(owner, clips, make_video):
    video = make_video(owner, clips["short"].path, name="holiday.mp4")
    make_analysis(video, duration=clips["short"].duration)
    video.mark_done()
    return video


def _html(response) -> str:
    return response.content.decode()


def _assert_no_inline_code(html: str) -> None:
    """The strict CSP allows no inline script, inline style or event handler attributes."""
    assert not re.search(r"\sstyle\s*=", html)
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert "hx-on" not in html
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html)
    assert "<style" not in html


# --- the list ------------------------------------------------------------------


def test_it_lists_only_own_videos_newest_first(owner_client, owner, outsider, clips, make_video):
    old = make_video(
        owner, clips["short"].path, name="old.mp4", created_at=timezone.now() - timedelta(hours=2)
    )
    new = make_video(owner, clips["other"].path, name="new.mp4")
    make_video(outsider, clips["short"].path, name="not-mine.mp4")

    response = owner_client.get(reverse("analysis:video-list"))

    assert response.status_code == 200
    html = _html(response)
    assert "not-mine.mp4" not in html
    assert html.index(str(new.uuid)) < html.index(str(old.uuid))
    assert f'id="video-{new.uuid}-status"' in html
    _assert_no_inline_code(html)


def test_it_shows_poster_duration_and_status(owner_client, done_video):
    html = _html(owner_client.get(reverse("analysis:video-list")))

    analysis = done_video.analyses.get()
    assert reverse("analysis:video-media", args=[done_video.uuid, analysis.poster]) in html
    assert "00:04" in html
    assert 'data-status="done"' in html
    assert "holiday.mp4" in html
    # The list re-reads itself on uploads, finished videos and every socket (re)connect.
    assert 'hx-trigger="videos-changed from:body, video-finished from:body, live-open from:body"' in html


def test_it_pages_a_long_list_newest_first(owner_client, owner, clips, make_video, monkeypatch):
    monkeypatch.setattr(selectors, "VIDEOS_PER_PAGE", 2)
    now = timezone.now()
    for n in range(5):  # video-0 is the oldest
        make_video(
            owner,
            clips["short"].path,
            name=f"video-{n}.mp4",
            sha256=str(n) * 64,
            created_at=now - timedelta(minutes=10 - n),
        )

    def names(html: str) -> list[str]:
        return re.findall(r'class="video-name"[^>]*>(video-\d)\.mp4<', html)

    first = _html(owner_client.get(reverse("analysis:video-list")))
    assert names(first) == ["video-4", "video-3"]
    assert "Page 1 of 3 · 5 in all" in first
    assert 'rel="next" href="?page=2"' in first
    assert 'rel="prev"' not in first

    second = _html(owner_client.get(reverse("analysis:video-list"), {"page": "2"}))
    assert names(second) == ["video-2", "video-1"]
    assert 'rel="prev" href="?page=1"' in second
    assert 'rel="next" href="?page=3"' in second
    # The live re-read of the list asks for the page being shown.
    assert 'hx-get="/videos/?page=2"' in second

    # Past the end is the last page; nonsense is the first.
    assert names(_html(owner_client.get(reverse("analysis:video-list"), {"page": "99"}))) == ["video-0"]
    assert names(_html(owner_client.get(reverse("analysis:video-list"), {"page": "x"}))) == [
        "video-4",
        "video-3",
    ]


def test_a_short_list_has_no_pager(owner_client, done_video):
    assert 'class="pager"' not in _html(owner_client.get(reverse("analysis:video-list")))


def test_it_includes_the_upload_form(owner_client):
    html = _html(owner_client.get(reverse("analysis:video-list")))
    assert 'id="upload-form"' in html
    assert "js/upload.js" in html
    assert "css/upload.css" in html
    assert "No videos yet" in html


def test_it_reads_the_list_from_the_cache(owner_client, owner, clips, make_video, redis_client):
    video = make_video(owner, clips["short"].path, name="first.mp4")
    owner_client.get(reverse("analysis:video-list"))

    key = django_cache.make_key(f"videos:{owner.pk}:{cache.version(owner.pk)}:list:1")
    assert redis_client.exists(key)
    # A change that bumps nothing is not seen: the second read came from Redis.
    Video.objects.filter(pk=video.pk).update(original_name="renamed-behind-the-cache.mp4")
    html = _html(owner_client.get(reverse("analysis:video-list")))
    assert "first.mp4" in html
    assert "renamed-behind-the-cache.mp4" not in html


def test_a_new_video_bumps_the_version_so_it_appears(owner_client, owner, clips):
    assert "fresh.mp4" not in _html(owner_client.get(reverse("analysis:video-list")))
    before = cache.version(owner.pk)

    with open(clips["other"].path, "rb") as fh:
        services.video_create(
            owner=owner, file=fh, original_name="fresh.mp4", size=1, sha256="f" * 64, container="mp4"
        )

    assert cache.version(owner.pk) == before + 1
    assert "fresh.mp4" in _html(owner_client.get(reverse("analysis:video-list")))


def test_the_cache_is_per_user(owner_client, outsider_client, owner, outsider, clips, make_video):
    make_video(owner, clips["short"].path, name="owners.mp4")
    make_video(outsider, clips["short"].path, name="outsiders.mp4")
    owner_html = _html(owner_client.get(reverse("analysis:video-list")))
    outsider_html = _html(outsider_client.get(reverse("analysis:video-list")))
    assert "owners.mp4" in owner_html
    assert "outsiders.mp4" not in owner_html
    assert "outsiders.mp4" in outsider_html
    assert "owners.mp4" not in outsider_html


def test_it_answers_htmx_with_the_list_partial(owner_client, done_video):
    response = owner_client.get(reverse("analysis:video-list"), headers={"HX-Request": "true"})
    html = _html(response)
    # Only the content: the region itself stays on the page, so requests queued on it are kept.
    assert html.lstrip().startswith('<ul class="video-grid">')
    assert 'id="video-list"' not in html
    assert "<html" not in html
    assert "holiday.mp4" in html
    assert "HX-Request" in response["Vary"]


def test_it_escapes_a_script_file_name_everywhere(owner_client, owner, clips, make_video):
    video = make_video(owner, clips["short"].path, name=SCRIPT_NAME)
    make_analysis(video)
    video.mark_done()

    for url in (reverse("analysis:video-list"), video.get_absolute_url()):
        html = _html(owner_client.get(url))
        assert '<script>alert("x")' not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;.mp4" in html


def test_it_sends_anonymous_visitors_to_log_in(client, done_video):
    for url in (reverse("analysis:video-list"), done_video.get_absolute_url()):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


# --- the video page ------------------------------------------------------------


def test_it_shows_the_video_to_its_owner(owner_client, done_video):
    response = owner_client.get(done_video.get_absolute_url())

    assert response.status_code == 200
    html = _html(response)
    analysis = done_video.analyses.get()
    file_url = reverse("analysis:video-file", args=[done_video.uuid])
    assert re.search(rf'<video id="player"[^>]*\scontrols[^>]*preload="metadata"[^>]*src="{file_url}"', html)
    assert f'poster="{reverse("analysis:video-media", args=[done_video.uuid, analysis.poster])}"' in html
    # Metadata
    assert "320 \u00d7 180" in html
    assert "25 fps" in html
    assert "h264" in html
    assert "aac, stereo, 44.1 kHz" in html
    assert "412.0 kb/s" in html
    # Scenes seek the player, with a real link when there is no script.
    assert html.count('<a class="scene"') == 3
    assert 'href="?t=2.0#player" data-seek="2.0" data-end="4.0"' in html
    # So do the storyboard's frames (one link each) and the charts' time marks.
    assert html.count('<a class="storyboard-frame" href="?t=') == 6
    assert 'href="?t=5.0#player" data-seek="5.0" data-player="player"' in html
    assert html.count('<a class="chart-tick') == 3 * len(charts.ticks(analysis.duration))
    for scene in analysis.scenes:
        assert reverse("analysis:video-media", args=[done_video.uuid, scene["thumbnail"]]) in html
    # Storyboard geometry for the script, the sprite for everyone.
    for attribute in ('data-columns="6"', 'data-rows="1"', 'data-count="6"', 'data-interval="1.0"'):
        assert attribute in html
    assert reverse("analysis:video-media", args=[done_video.uuid, analysis.storyboard_image]) in html
    # Three charts, silence shaded.
    assert html.count('<polyline class="line"') == 3
    assert html.count('<rect class="silence"') == 3
    assert f'id="video-{done_video.uuid}-results"' in html
    assert 'hx-trigger="video-finished from:body, live-open from:body"' in html
    # Owner's buttons, with CSRF, confirm for delete.
    assert f'action="{reverse("analysis:video-reanalyze", args=[done_video.uuid])}"' in html
    assert f'hx-post="{reverse("analysis:video-delete", args=[done_video.uuid])}"' in html
    assert "hx-confirm=" in html
    assert html.count("csrfmiddlewaretoken") >= 3  # re-analyse, delete, log out
    _assert_no_inline_code(html)


def test_it_lists_every_analysis_newest_first(owner_client, done_video):
    make_analysis(done_video, age=timedelta(days=3), analyzer_version="0.9", wall_time=12.5)

    html = _html(owner_client.get(done_video.get_absolute_url()))

    history = html[html.index('class="history"') :]
    assert history.count("<tr") == 3  # header and two analyses
    assert history.index(">1.0<") < history.index(">0.9<")
    assert "12.5 s" in history
    assert "0.8 s" in history


def test_it_answers_htmx_with_the_results_partial(owner_client, done_video):
    response = owner_client.get(done_video.get_absolute_url(), headers={"HX-Request": "true"})
    html = _html(response)
    assert html.lstrip().startswith('<aside class="card video-side">')
    assert f'id="video-{done_video.uuid}-results"' not in html
    assert f'id="video-{done_video.uuid}-status"' in html
    assert "<video" not in html
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_it_shows_the_failure_reason(owner_client, owner, clips, make_video):
    video = make_video(owner, clips["short"].path)
    video.mark_failed("This file stops half-way: the upload may have been cut short.")
    html = _html(owner_client.get(video.get_absolute_url()))
    assert 'role="alert"' in html
    assert "This file stops half-way" in html
    assert "Re-analyse</button>" in html
    assert "disabled" not in html.split("Re-analyse</button>")[0].rsplit("<button", 1)[1]


def test_it_copes_with_a_sparse_analysis(owner_client, owner, clips, make_video):
    """An older or partial analysis (no audio, no storyboard, odd values) still renders."""
    video = make_video(owner, clips["short"].path)
    make_analysis(
        video,
        metadata={"duration": None, "has_audio": False},
        scenes=[{"index": 1, "start": 0.0, "end": 4.0, "thumbnail": ""}],
        timelines={"brightness": [None, "x", 12.0], "loudness": []},
        silences=[{"start": "bad"}, "nonsense"],
        storyboard={"columns": 0},
        storyboard_image="",
        poster="",
    )
    video.mark_done()

    response = owner_client.get(video.get_absolute_url())

    assert response.status_code == 200
    html = _html(response)
    assert "none</span>" in html  # no audio
    assert html.count('<polyline class="line"') == 1
    assert 'class="storyboard"' not in html
    assert "poster=" not in html


def test_it_says_the_analysis_is_on_its_way(owner_client, owner, clips, make_video):
    video = make_video(owner, clips["short"].path)
    html = _html(owner_client.get(video.get_absolute_url()))
    assert "Analysis on its way" in html
    assert "<progress" in html
    # Re-analysing a video that is being analysed makes no sense.
    assert re.search(r"<button[^>]*disabled[^>]*>Re-analyse</button>", html)


def test_it_starts_the_player_where_a_scene_link_says(owner_client, done_video):
    file_url = reverse("analysis:video-file", args=[done_video.uuid])
    html = _html(owner_client.get(done_video.get_absolute_url(), {"t": "2.5"}))
    assert f'src="{file_url}#t=2.5"' in html
    for bad in ("nan", "-3", "inf", "x"):
        html = _html(owner_client.get(done_video.get_absolute_url(), {"t": bad}))
        assert f'src="{file_url}"' in html


def test_the_page_is_a_404_to_anyone_else(outsider_client, done_video):
    assert outsider_client.get(done_video.get_absolute_url()).status_code == 404
    unknown = reverse("analysis:video-detail", args=["00000000-0000-0000-0000-000000000000"])
    assert outsider_client.get(unknown).status_code == 404


# --- re-analyse and delete ---------------------------------------------------------


def test_it_queues_a_fresh_analysis_on_the_low_queue(
    owner_client, done_video, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("analysis:video-reanalyze", args=[done_video.uuid]))

    assert response.status_code == 302
    assert response["Location"] == done_video.get_absolute_url()
    done_video.refresh_from_db()
    assert done_video.status == Video.Status.QUEUED
    assert django_rq.get_queue("low").job_ids == [jobs.job_id(done_video)]
    assert done_video.analyses.count() == 1  # the earlier analysis is kept


def test_reanalyse_is_rate_limited_per_user(owner_client, owner, done_video, settings):
    settings.RATELIMIT_REANALYSE_USER = "1/d"
    assert owner_client.post(reverse("analysis:video-reanalyze", args=[done_video.uuid])).status_code == 302
    Video.objects.filter(pk=done_video.pk).update(status=Video.Status.DONE)  # as if it had finished

    response = owner_client.post(reverse("analysis:video-reanalyze", args=[done_video.uuid]))

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    html = _html(response)
    assert "Too many fresh analyses asked for" in html
    assert f'href="{done_video.get_absolute_url()}"' in html
    assert Video.objects.get(pk=done_video.pk).status == Video.Status.DONE


def test_reanalyse_answers_htmx_with_a_client_redirect(owner_client, done_video):
    response = owner_client.post(
        reverse("analysis:video-reanalyze", args=[done_video.uuid]), headers={"HX-Request": "true"}
    )
    assert response["HX-Redirect"] == done_video.get_absolute_url()


def test_it_does_not_reanalyse_a_video_being_analysed(owner_client, owner, clips, make_video):
    video = make_video(owner, clips["short"].path)
    video.mark_processing()
    response = owner_client.post(reverse("analysis:video-reanalyze", args=[video.uuid]), follow=True)
    assert b"being analysed already" in response.content
    video.refresh_from_db()
    assert video.status == Video.Status.PROCESSING
    assert django_rq.get_queue("low").job_ids == []


def test_it_deletes_the_video_and_its_files(owner_client, done_video, django_capture_on_commit_callbacks):
    analysis = done_video.analyses.get()
    names = [done_video.file.name, *analysis.media_names()]
    assert all(default_storage.exists(name) for name in names)

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("analysis:video-delete", args=[done_video.uuid]))

    assert response.status_code == 302
    assert response["Location"] == reverse("analysis:video-list")
    assert not Video.objects.filter(pk=done_video.pk).exists()
    assert not Analysis.objects.filter(pk=analysis.pk).exists()
    assert not any(default_storage.exists(name) for name in names)
    page = _html(owner_client.get(reverse("analysis:video-list")))
    assert "Deleted “holiday.mp4”" in page
    assert 'class="video-card"' not in page


def test_delete_answers_htmx_with_a_client_redirect(owner_client, done_video):
    response = owner_client.post(
        reverse("analysis:video-delete", args=[done_video.uuid]), headers={"HX-Request": "true"}
    )
    assert response["HX-Redirect"] == reverse("analysis:video-list")
    assert not Video.objects.filter(pk=done_video.pk).exists()


def test_reanalyse_and_delete_are_404_to_anyone_else(outsider_client, done_video):
    for name in ("analysis:video-reanalyze", "analysis:video-delete"):
        assert outsider_client.post(reverse(name, args=[done_video.uuid])).status_code == 404
    done_video.refresh_from_db()
    assert done_video.status == Video.Status.DONE
    assert django_rq.get_queue("low").job_ids == []
    assert Path(done_video.file.path).exists()


def test_reanalyse_and_delete_take_only_posts(owner_client, done_video):
    anonymous = Client()
    for name in ("analysis:video-reanalyze", "analysis:video-delete"):
        url = reverse(name, args=[done_video.uuid])
        assert owner_client.get(url).status_code == 405
        response = anonymous.post(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    assert Video.objects.filter(pk=done_video.pk, status=Video.Status.DONE).exists()


# --- formatting ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "00:00"),
        (75.2, "01:15"),
        (59.999, "00:59"),
        (3723, "1:02:03"),
        ("12.5", "00:12"),
        (None, ""),
        ("x", ""),
    ],
)
def test_mmss(seconds, text):
    assert mmss(seconds) == text


def test_charts_scale_the_series_to_the_plot():
    drawn = charts.timeline_charts(
        timelines={"brightness": [0, 255], "motion": [], "loudness": [-91.0, 0.0]},
        silences=[{"start": 0.5, "end": 1.0}, {"start": 5, "end": 9}],
        duration=2.0,
    )
    assert [chart.key for chart in drawn] == ["brightness", "loudness"]
    brightness, loudness = drawn
    assert brightness.line == "0.0,100.0 250.0,100.0 750.0,0.0 1000.0,0.0"
    assert loudness.line.split()[1] == "250.0,100.0"  # below the floor: clamped to the bottom
    assert [(s.x, s.width) for s in brightness.shades] == [(250.0, 250.0)]  # the one inside the video
    assert [t.label for t in brightness.ticks] == ["00:00", "00:01", "00:02"]


def test_charts_thin_long_series():
    values = list(range(3 * 3600))
    (chart,) = charts.timeline_charts(timelines={"motion": values}, silences=[], duration=3 * 3600)
    assert len(chart.line.split()) == charts.MAX_POINTS + 2
    assert chart.ticks[-1].label == "3:00:00"
    assert len(chart.ticks) <= charts.MAX_TICKS + 1
