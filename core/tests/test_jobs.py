"""The job runner as the workers' maintenance uses it: every registered kind, one rule."""

from __future__ import annotations

import logging

import django_rq
import pytest

from analysis import clip_jobs
from analysis import jobs as analysis_jobs
from chat import jobs as chat_jobs
from chat.models import Conversation, Message
from core import jobs
from videochat.worker import run_maintenance

pytestmark = pytest.mark.django_db


def _lost_work(owner, clips, make_video):
    """A video and a reply whose jobs no queue holds (their on-commit enqueues never ran)."""
    video = make_video(owner, clips["short"].path)
    conversation = Conversation.objects.create(owner=owner, title="About my clip")
    reply = Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, status=Message.Status.PENDING
    )
    return video, reply


def test_every_app_registers_its_kind_of_job():
    assert jobs.kinds() == [analysis_jobs.ANALYSIS, clip_jobs.CLIP, chat_jobs.REPLY]


def test_workers_maintenance_recovers_every_kind(owner, clips, make_video):
    video, reply = _lost_work(owner, clips, make_video)
    run_maintenance()
    assert django_rq.get_queue("default").job_ids == [analysis_jobs.job_id(video)]
    assert django_rq.get_queue("high").job_ids == [chat_jobs.job_id(reply)]


def test_one_kind_failing_does_not_keep_the_others_from_recovery(
    owner, clips, make_video, monkeypatch, caplog
):
    _, reply = _lost_work(owner, clips, make_video)

    def broken():
        raise RuntimeError("the database blinked")

    monkeypatch.setattr(analysis_jobs.ANALYSIS, "recover", broken)
    with caplog.at_level(logging.ERROR, logger="videochat.worker"):
        run_maintenance()
    assert "recovering lost video jobs failed" in caplog.text
    assert django_rq.get_queue("default").count == 0
    assert django_rq.get_queue("high").job_ids == [chat_jobs.job_id(reply)]


def test_a_second_enqueue_of_a_row_is_harmless(owner, clips, make_video):
    video = make_video(owner, clips["short"].path)
    assert analysis_jobs.ANALYSIS.enqueue(video) is True
    assert analysis_jobs.ANALYSIS.enqueue(video) is False
    assert analysis_jobs.ANALYSIS.enqueue(video, queue="low") is False  # the job, not the queue, is one
    assert django_rq.get_queue("default").job_ids == [analysis_jobs.job_id(video)]
    job = django_rq.get_queue("default").fetch_job(analysis_jobs.job_id(video))
    assert job.func is analysis_jobs.analyze_video
    assert job.args == (video.pk,)
