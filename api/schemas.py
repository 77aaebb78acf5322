"""What the API's answers look like (its OpenAPI schema is made from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from django.urls import reverse
from ninja import Schema
from pydantic import BaseModel

from analysis.models import Analysis, Video


def _media_url(video_uuid, name: str) -> str | None:
    return reverse("analysis:video-media", args=[video_uuid, name]) if name else None


class AnalysisBrief(Schema):
    """The newest local analysis of a video, in short."""

    id: int
    created_at: datetime
    duration: float | None


class VideoOut(Schema):
    id: UUID
    name: str
    size: int
    container: str
    status: str  # queued, processing, done, failed
    stage: str
    progress: int  # percent
    failure_reason: str
    version: int  # goes up with every change of status, stage or progress
    created_at: datetime
    finished_at: datetime | None
    file_url: str  # the video's bytes (owner only, with HTTP Range)

    @staticmethod
    def resolve_id(video: Video) -> UUID:
        return video.uuid

    @staticmethod
    def resolve_name(video: Video) -> str:
        return video.original_name

    @staticmethod
    def resolve_file_url(video: Video) -> str:
        return reverse("analysis:video-file", args=[video.uuid])


class VideoListItem(VideoOut):
    duration: float | None
    poster_url: str | None
    latest_analysis: AnalysisBrief | None

    @staticmethod
    def resolve_poster_url(video: Video) -> str | None:
        return _media_url(video.uuid, getattr(video, "poster", "") or "")

    @staticmethod
    def resolve_duration(video: Video) -> float | None:
        return getattr(video, "duration", None)

    @staticmethod
    def resolve_latest_analysis(video: Video) -> dict | None:
        if getattr(video, "analysis_id", None) is None:
            return None
        return {"id": video.analysis_id, "created_at": video.analysis_at, "duration": video.duration}


class VideoPage(Schema):
    items: list[VideoListItem]
    page: int
    pages: int
    count: int


class AnalysisOut(Schema):
    """One analysis: `local` (metadata, scenes, timelines, silences, speech) or `gemini` (in `details`)."""

    id: int
    analyzer: str
    analyzer_version: str
    created_at: datetime
    wall_time: float  # seconds the analysis took
    metadata: dict
    scenes: list[dict]  # start, end (seconds), thumbnail_url
    cuts: list[float]
    timelines: dict
    silences: list
    storyboard: dict | None  # the sprite's geometry and image_url
    poster_url: str | None
    details: dict  # what else the analyzer found (Gemini: summary, topics, key_moments, …)

    @staticmethod
    def resolve_scenes(analysis: Analysis) -> list[dict]:
        video_uuid = analysis.video.uuid
        return [
            {
                **{k: v for k, v in scene.items() if k != "thumbnail"},
                "thumbnail_url": _media_url(video_uuid, scene.get("thumbnail") or ""),
            }
            for scene in analysis.scenes
        ]

    @staticmethod
    def resolve_cuts(analysis: Analysis) -> list[float]:
        return list(analysis.extra.get("cuts") or [])

    @staticmethod
    def resolve_storyboard(analysis: Analysis) -> dict | None:
        if not analysis.storyboard_image:
            return None
        return {
            **analysis.storyboard,
            "image_url": _media_url(analysis.video.uuid, analysis.storyboard_image),
        }

    @staticmethod
    def resolve_poster_url(analysis: Analysis) -> str | None:
        return _media_url(analysis.video.uuid, analysis.poster)

    @staticmethod
    def resolve_details(analysis: Analysis) -> dict:
        # The uploaded file's reference at Google is ours to reuse, not the client's.
        return {key: value for key, value in analysis.extra.items() if key not in ("cuts", "file")}


class VideoDetail(VideoOut):
    analyses: list[AnalysisOut]  # newest first: the whole history

    @staticmethod
    def resolve_analyses(video: Video) -> list[Analysis]:
        history = video.history  # set by the view, from the cache
        for analysis in history:
            analysis.video = video  # not a query per analysis
        return history


class Segment(Schema):
    start: float
    end: float
    text: str


class TranscriptOut(Schema):
    analysis_id: int | None  # the newest local analysis, whose transcript this is
    segments: list[Segment]
    note: str  # why there is no transcript, when there is none


class UploadResult(Schema):
    name: str
    # accepted, duplicate (you had it: the existing video), or why it was refused:
    # empty, too-large, not-video, too-many, cut-off, not-saved
    outcome: str
    accepted: bool
    reason: str
    video: VideoOut | None


class UploadOut(Schema):
    results: list[UploadResult]  # one per file, in upload order
    notice: str


class UploadRefused(Schema):
    """No file was accepted (`refused`, with each file's verdict), or the body was not an upload."""

    error: str
    code: str
    results: list[UploadResult] = []
    notice: str = ""
    fields: dict[str, list[str]] | None = None


class Moment(Schema):
    start: float  # seconds: where the matched words begin (are said, or come on screen)
    end: float  # seconds: where the spoken line they are in ends, or the text leaves the screen
    snippet: str  # HTML: the words around the match, the matched words in <mark>
    kind: Literal["spoken", "on_screen"]  # said (the transcript) or shown (text read from the picture)


class SearchHit(Schema):
    video: VideoOut
    name: str  # HTML: the video's name, matched words in <mark>
    moments: list[Moment]


class SearchOut(Schema):
    query: str
    hits: list[SearchHit]


# Messages are built from the cached rows (plain dicts), not from model objects: plain
# pydantic models, without ninja's reading of attributes (a third of a cached page's time).
class VideoRef(BaseModel):
    id: UUID
    name: str


class MessageOut(BaseModel):
    id: UUID
    role: str  # user, assistant
    kind: str  # reply, summary
    status: str  # pending, streaming, complete, failed
    text: str  # Markdown; while streaming, what is written so far
    html: str  # the text rendered as safe HTML (complete messages)
    failure_reason: str
    provider: str
    version: int
    created_at: datetime
    videos: list[VideoRef]


class MessagePage(BaseModel):
    items: list[MessageOut]  # newest first
    next_cursor: str | None  # pass as ?cursor= for the older ones; null: none older


class MessageIn(Schema):
    text: str = ""
    videos: list[str] = []  # ids of your videos to attach


class MessageSent(BaseModel):
    question: MessageOut
    reply: MessageOut  # pending: poll it, or listen on /ws/events/


class ConversationRow(Schema):
    id: UUID
    title: str
    updated_at: datetime
    message_count: int


class ConversationPage(Schema):
    items: list[ConversationRow]
    page: int
    pages: int
    count: int


class ConversationOut(Schema):
    id: UUID
    title: str
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_id(conversation) -> UUID:
        return conversation.uuid

    @staticmethod
    def resolve_title(conversation) -> str:
        return str(conversation)


class ConversationIn(Schema):
    title: str | None = None


class TitleIn(Schema):
    title: str
