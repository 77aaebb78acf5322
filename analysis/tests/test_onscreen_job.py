"""The on-screen text stage of the analysis job: spans read from a real clip, stored, shown and
searched; a model that cannot load leaves the analysis standing with a note."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analysis import jobs
from analysis.analyzers import onscreen
from analysis.models import OnscreenTextSpan, Video
from analysis.search import ON_SCREEN, search_videos
from testkit import textclips

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    return textclips.slides_clip(tmp_path_factory.mktemp("slides") / "slides.mp4")


@pytest.fixture
def reading(settings):
    settings.ONSCREEN_TEXT = True
    settings.TRANSCRIBE_SPEECH = False  # speech is not what these tests are about
    return settings


def _analysed(owner, make_video, path) -> Video:
    video = make_video(owner, path)
    assert jobs.analyze_video(video.pk) == "done"
    video.refresh_from_db()
    return video


def test_the_job_reads_and_stores_the_slides_text(reading, owner, owner_client, make_video, slides):
    video = _analysed(owner, make_video, slides.path)
    analysis = video.latest_analysis
    spans = list(OnscreenTextSpan.objects.filter(analysis=analysis))
    texts = [span.text for span in spans]
    assert "Quarterly budget review" in texts
    assert "Hiring plan for 2027" in texts
    hiring = next(span for span in spans if span.text == "Hiring plan for 2027")
    assert hiring.start == pytest.approx(4.0, abs=1.0)
    assert hiring.end == pytest.approx(8.0, abs=1.0)
    assert len(hiring.box) == 4
    assert 0 < hiring.height < 0.2
    assert 0 < hiring.confidence <= 1
    assert analysis.extra["onscreen"]["model"] == onscreen.MODEL_NAME
    assert "spans" not in analysis.extra["onscreen"]

    html = owner_client.get(video.get_absolute_url()).content.decode()
    assert "Hiring plan for 2027" in html
    [hit] = search_videos(owner, "Lisbon")
    assert [moment.kind for moment in hit.moments] == [ON_SCREEN]
    assert hit.moments[0].start == pytest.approx(4.0, abs=1.0)
    listed = owner_client.get(reverse("analysis:video-list"), {"q": "Lisbon"}).content.decode()
    assert '<span class="moment-kind">on screen</span>' in listed


def test_a_model_that_cannot_load_leaves_the_analysis_with_a_note(
    reading, owner, owner_client, make_video, slides, tmp_path, monkeypatch
):
    # No model files where the engine looks: it cannot load, as on a server without them.
    monkeypatch.setattr(onscreen, "MODEL_DIR", tmp_path / "no-models")
    monkeypatch.setattr(onscreen, "_engine", onscreen._engine.fresh())
    video = _analysed(owner, make_video, slides.path)
    assert video.status == Video.Status.DONE
    analysis = video.latest_analysis
    assert analysis.scenes  # the rest of the analysis stands
    assert not OnscreenTextSpan.objects.exists()
    note = f"No on-screen text: {onscreen.MODEL_MISSING}."
    assert analysis.extra["onscreen"] == {"note": note, "model": onscreen.MODEL_NAME}
    assert note in owner_client.get(video.get_absolute_url()).content.decode()


def test_reading_can_be_switched_off(settings, owner, make_video, clips):
    settings.ONSCREEN_TEXT = False
    settings.TRANSCRIBE_SPEECH = False
    video = _analysed(owner, make_video, clips["short"].path)
    assert video.latest_analysis.extra["onscreen"] == {}
    assert not OnscreenTextSpan.objects.exists()


def test_the_stage_has_its_own_share_of_the_progress_bar(reading, owner, make_video, clips, monkeypatch):
    seen = []
    report = jobs._Progress.__call__
    monkeypatch.setattr(
        jobs._Progress,
        "__call__",
        lambda self, percent, stage: (seen.append((percent, stage)), report(self, percent, stage)),
    )
    reading.TRANSCRIBE_SPEECH = True
    _analysed(owner, make_video, clips["short"].path)
    speech = [percent for percent, stage in seen if stage == jobs.TRANSCRIBE_STAGE]
    text = [percent for percent, stage in seen if stage == jobs.ONSCREEN_STAGE]
    assert speech
    assert text
    assert jobs.LOCAL_SHARE == min(speech) < max(speech) <= min(text) < max(text) <= 99
    # In order: the local stages, speech, then the text on screen.
    stages = [stage for _, stage in seen]
    assert stages.index(jobs.ONSCREEN_STAGE) > max(
        i for i, s in enumerate(stages) if s == jobs.TRANSCRIBE_STAGE
    )
