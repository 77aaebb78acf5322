from __future__ import annotations

import pytest

from analysis.models import Analysis, Video
from chat.models import Conversation


@pytest.fixture
def conversation(owner):
    return Conversation.objects.create(owner=owner, title="About my clip")


@pytest.fixture
def analysed_video(owner):
    """A finished video with a realistic stored analysis (no file needed for chat)."""
    video = Video.objects.create(
        owner=owner,
        original_name="holiday.mp4",
        file="videos/x/source.mp4",
        size=1234567,
        sha256="a" * 64,
        container="mp4",
        status=Video.Status.DONE,
        progress=100,
        stage="Done",
    )
    loudness = [-30.0] * 75
    loudness[52] = -3.0
    for second in range(40, 44):
        loudness[second] = -91.0
    Analysis.objects.create(
        video=video,
        analyzer="local",
        analyzer_version="1.0",
        metadata={
            "container": "mov,mp4,m4a,3gp,3g2,mj2",
            "duration": 75.2,
            "video_codec": "h264",
            "width": 1280,
            "height": 720,
            "frame_rate": 30.0,
            "bit_rate": 2_000_000,
            "rotation": 0,
            "audio_codec": "aac",
            "audio_channels": 2,
            "audio_sample_rate": 48000,
            "file_size": 1234567,
            "has_audio": True,
        },
        scenes=[
            {"index": 0, "start": 0.0, "end": 12.0, "thumbnail": ""},
            {"index": 1, "start": 12.0, "end": 30.5, "thumbnail": ""},
            {"index": 2, "start": 30.5, "end": 75.2, "thumbnail": ""},
        ],
        timelines={"brightness": [100.0] * 75, "motion": [5.0] * 75, "loudness": loudness},
        silences=[{"start": 40.0, "end": 44.0}],
        wall_time=1.5,
    )
    return video
