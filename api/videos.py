"""Videos: the list, one video with its analysis history, its transcript, upload, re-analyse, delete, search.

Each endpoint calls what the video pages call (analysis.selectors, .services,
.upload, .search) and counts against the same rate limits.
"""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from analysis import search, selectors, services
from analysis.upload import (
    NO_FILES,
    UPLOADS,
    accept_uploads,
    install_upload_handler,
    read_uploads,
    too_many_notice,
)
from analysis.views import REANALYSES, SEARCHES
from api import schemas
from api.errors import ApiError, answers, check_limit
from core.paging import MAX_PAGE

router = Router(tags=["videos"])


class PageQuery(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE, description="Past the last page: the last page.")


class SearchQuery(Schema):
    q: str = Field(..., description="Words to find in your videos' names and in what is said in them.")


@router.get(
    "/videos",
    response=answers({200: schemas.VideoPage}),
    url_name="videos",
    summary="Your videos, newest first",
)
def video_list(request: HttpRequest, query: Query[PageQuery]):
    page = selectors.videos_page(request.user, query.page)
    return {"items": page.items, "page": page.number, "pages": page.num_pages, "count": page.count}


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                    "required": ["files"],
                }
            }
        },
    }
}


@router.post(
    "/videos",
    response=answers({200: schemas.UploadOut, 201: schemas.UploadOut, 400: schemas.UploadRefused}, 408, 413),
    url_name="videos",
    summary="Upload videos (several files in one request)",
    description=(
        "A multipart/form-data body with one or more `files`. Each file is checked as it "
        "arrives (size, container sniffed from its bytes) and gets its own verdict. 201 when "
        "a video was added, 200 when every accepted file was one you had already, 400 when "
        "none was accepted."
    ),
    openapi_extra=UPLOAD_BODY,
)
def video_upload(request: HttpRequest):
    uploads = install_upload_handler(request)
    try:
        check_limit(request, UPLOADS)
        if unreadable := read_uploads(request):
            raise ApiError(400, "unreadable", unreadable)
        outcomes = accept_uploads(request, uploads)
    finally:
        uploads.discard()
    results = [
        {
            "name": outcome.name,
            "outcome": outcome.code,
            "accepted": outcome.accepted,
            "reason": outcome.reason,
            "video": outcome.video,
        }
        for outcome in outcomes
    ]
    notice = too_many_notice(outcomes)
    if not any(outcome.accepted for outcome in outcomes):
        message = " ".join(f"{o.name} was refused: {o.reason}" for o in outcomes if o.reason) or NO_FILES
        return Status(400, {"error": message, "code": "refused", "results": results, "notice": notice})
    return Status(201 if any(o.created for o in outcomes) else 200, {"results": results, "notice": notice})


@router.get(
    "/videos/{uuid:video_id}",
    response=answers({200: schemas.VideoDetail}),
    url_name="video",
    summary="One video",
)
def video_detail(request: HttpRequest, video_id: UUID):
    video = selectors.video_for_user(request.user, video_id)
    video.history = selectors.video_analyses(video)
    return video


@router.delete(
    "/videos/{uuid:video_id}", response=answers({204: None}), url_name="video", summary="Delete a video"
)
def video_delete(request: HttpRequest, video_id: UUID):
    video = selectors.video_for_user(request.user, video_id)
    services.video_delete(video=video)
    return Status(204, None)


@router.get(
    "/videos/{uuid:video_id}/transcript",
    response=answers({200: schemas.TranscriptOut}),
    url_name="video-transcript",
    summary="What is said in a video, from its newest analysis",
)
def video_transcript(request: HttpRequest, video_id: UUID):
    video = selectors.video_for_user(request.user, video_id)
    analysis = selectors.newest_local(selectors.video_analyses(video))
    if analysis is None:
        return {"analysis_id": None, "segments": [], "note": "The video has not been analysed yet."}
    speech = analysis.extra.get("speech") or {}
    segments = selectors.transcript_segments(video, analysis)
    return {"analysis_id": analysis.pk, "segments": segments, "note": speech.get("note", "")}


@router.post(
    "/videos/{uuid:video_id}/reanalyse",
    response=answers({202: schemas.VideoOut}, 409),
    url_name="video-reanalyse",
    summary="Queue a fresh analysis (the earlier ones are kept)",
)
def video_reanalyse(request: HttpRequest, video_id: UUID):
    video = selectors.video_for_user(request.user, video_id)
    check_limit(request, REANALYSES)
    if not video.is_finished:
        raise ApiError(409, "busy", "This video is being analysed already.")
    services.video_reanalyze(video=video)
    return Status(202, video)


@router.get(
    "/search", response=answers({200: schemas.SearchOut}), url_name="search", summary="Search your videos"
)
def video_search(request: HttpRequest, query: Query[SearchQuery]):
    check_limit(request, SEARCHES)
    hits = search.search_videos(request.user, query.q.strip())
    return {
        "query": query.q,
        "hits": [
            {
                "video": hit.video,
                "name": str(hit.name),
                "moments": [
                    {"start": m.start, "end": m.end, "snippet": str(m.snippet), "kind": m.kind}
                    for m in hit.moments
                ],
            }
            for hit in hits
        ],
    }
