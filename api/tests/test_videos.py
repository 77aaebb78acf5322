"""The video endpoints: what they answer, what they change, and that they are the pages' rules."""

from __future__ import annotations

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis import cache as video_cache
from analysis.models import CONTAINER_EXTENSIONS, Video
from analysis.tests.clips import make_not_video
from analysis.tests.test_pages import make_analysis
from analysis.tests.test_sniff import MUXED, make_tiny

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("tiny")
    return {c: make_tiny(folder / f"clip{CONTAINER_EXTENSIONS[c]}", c).path.read_bytes() for c in MUXED}


@pytest.fixture(scope="module")
def png(tmp_path_factory) -> bytes:
    return make_not_video(tmp_path_factory.mktemp("png") / "holiday.mp4").read_bytes()


def upload(client, *files: tuple[str, bytes], **extra):
    return client.post("/api/v1/videos", {"files": [SimpleUploadedFile(n, d) for n, d in files]}, **extra)


# --- reading -------------------------------------------------------------------------


def test_it_lists_videos_newest_first_with_status_and_the_newest_analysis(
    api, owner, world, make_video, clips
):
    queued = make_video(owner, clips["other"].path, name="later.mp4")
    body = api.get("/api/v1/videos").json()
    assert [item["name"] for item in body["items"]] == ["later.mp4", "holiday.mp4"]
    later, holiday = body["items"]
    assert (later["status"], later["progress"], later["latest_analysis"]) == ("queued", 0, None)
    assert later["id"] == str(queued.uuid)
    assert (holiday["status"], holiday["progress"], holiday["duration"]) == ("done", 100, 6.0)
    assert holiday["latest_analysis"]["id"] == world["analysis"].pk
    assert holiday["poster_url"].endswith(world["analysis"].poster)
    assert api.get(holiday["poster_url"]).status_code == 200  # the owner's media view serves it
    assert api.get(holiday["file_url"], headers={"Range": "bytes=0-9"}).status_code == 206
    assert (body["page"], body["pages"], body["count"]) == (1, 1, 2)


def test_it_pages_the_list_as_the_page_does(api, owner, settings, monkeypatch):
    monkeypatch.setattr("analysis.selectors.VIDEOS_PER_PAGE", 2)
    for n in range(5):
        Video.objects.create(
            owner=owner, original_name=f"v{n}.mp4", size=1, sha256=f"{n:064d}", container="mp4"
        )
    pages = [api.get(f"/api/v1/videos?page={n}").json() for n in (1, 2, 3)]
    assert [[i["name"] for i in page["items"]] for page in pages] == [
        ["v4.mp4", "v3.mp4"],
        ["v2.mp4", "v1.mp4"],
        ["v0.mp4"],
    ]
    assert {(p["pages"], p["count"]) for p in pages} == {(3, 5)}
    assert api.get("/api/v1/videos?page=99").json()["page"] == 3  # past the end: the last page


@pytest.mark.parametrize("page", ["0", "-1", "zzz", "99999999999999999999"])
def test_it_names_the_field_of_a_bad_page(api, page):
    response = api.get(f"/api/v1/videos?page={page}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["page"]


def test_it_reads_the_list_from_the_pages_cache(api, owner, world, django_assert_num_queries, redis_client):
    api.get("/api/v1/videos")
    assert redis_client.keys(f"*{video_cache.raw_key(owner.pk, 'list:1').split(':', 1)[1]}")
    # Cached: no database at all, the token's lookup being cached too.
    with django_assert_num_queries(0):
        api.get("/api/v1/videos")
    world["video"].mark_queued()  # any change bumps the version: read afresh
    video_cache.bump(owner.pk)
    assert api.get("/api/v1/videos").json()["items"][0]["status"] == "queued"


def test_it_gives_one_video_with_its_whole_analysis_history(api, world):
    video = world["video"]
    newer = make_analysis(video, duration=7.0)
    body = api.get(f"/api/v1/videos/{video.uuid}").json()
    assert [a["id"] for a in body["analyses"]] == [newer.pk, world["analysis"].pk]
    first = body["analyses"][0]
    assert first["metadata"]["duration"] == 7.0
    assert [s["start"] for s in first["scenes"]] == [0.0, 2.0, 4.0]
    assert all(api.get(s["thumbnail_url"]).status_code == 200 for s in first["scenes"])
    assert "thumbnail" not in first["scenes"][0]
    assert body["name"] == "holiday.mp4"


def test_it_gives_the_transcript_of_the_newest_analysis(api, world, owner, make_video, clips):
    body = api.get(f"/api/v1/videos/{world['video'].uuid}/transcript").json()
    assert body == {
        "analysis_id": world["analysis"].pk,
        "segments": [{"start": 0.0, "end": 2.0, "text": "hello holiday words"}],
        "note": "",
    }
    fresh = make_video(owner, clips["other"].path)
    assert api.get(f"/api/v1/videos/{fresh.uuid}/transcript").json()["analysis_id"] is None


def test_it_searches_names_and_spoken_words(api, world):
    body = api.get("/api/v1/search?q=words").json()
    assert body["query"] == "words"
    [hit] = body["hits"]
    assert hit["video"]["id"] == str(world["video"].uuid)
    assert (hit["moments"][0]["start"], hit["moments"][0]["end"]) == (0.0, 2.0)
    assert "<mark>words</mark>" in hit["moments"][0]["snippet"]
    assert hit["moments"][0]["kind"] == "spoken"
    assert api.get("/api/v1/search?q=nothinglikeit").json()["hits"] == []


def test_its_search_finds_words_shown_on_screen_marked_so(api, world):
    [hit] = api.get("/api/v1/search?q=slide").json()["hits"]
    [moment] = hit["moments"]
    assert (moment["start"], moment["end"], moment["kind"]) == (1.0, 3.5, "on_screen")
    assert "<mark>slide</mark>" in moment["snippet"].lower()


def test_it_requires_a_query_to_search(api):
    response = api.get("/api/v1/search")
    assert response.status_code == 400
    assert response.json()["fields"] == {"q": ["Field required"]}


def test_search_counts_against_the_pages_limit(api, owner_client, settings):
    settings.RATELIMIT_SEARCH_USER = "2/m"
    owner_client.get("/videos/?q=one")  # the page and the API count together
    assert api.get("/api/v1/search?q=two").status_code == 200
    response = api.get("/api/v1/search?q=three")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) == response.json()["retry_after"] > 0
    assert "Too many searches" in response.json()["error"]


# --- writing -------------------------------------------------------------------------


def test_it_uploads_several_files_with_a_verdict_each(
    api, owner, tiny, png, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, ("beach.mp4", tiny["mp4"]), ("city.webm", tiny["webm"]), ("photo.mp4", png))
    assert response.status_code == 201
    results = response.json()["results"]
    assert [(r["name"], r["outcome"], r["accepted"]) for r in results] == [
        ("beach.mp4", "accepted", True),
        ("city.webm", "accepted", True),
        ("photo.mp4", "not-video", False),
    ]
    assert "not a video we can read" in results[2]["reason"]
    beach = Video.objects.get(owner=owner, original_name="beach.mp4")
    assert results[0]["video"]["id"] == str(beach.uuid)
    assert (beach.status, beach.container) == ("queued", "mp4")
    assert django_rq.get_queue("default").count == 2  # both queued for analysis, as from the page


def test_it_gives_back_the_existing_video_for_the_same_content(api, owner, tiny):
    first = upload(api, ("first.mp4", tiny["mp4"])).json()["results"][0]["video"]
    response = upload(api, ("again.mp4", tiny["mp4"]))
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert (result["outcome"], result["video"]["id"]) == ("duplicate", first["id"])
    assert Video.objects.filter(owner=owner).count() == 1


def test_it_refuses_when_no_file_is_accepted(api, owner, png, settings, tiny):
    settings.MAX_UPLOAD_MB = 1
    big = tiny["mp4"] + b"\0" * (1024 * 1024)
    response = upload(api, ("photo.mp4", png), ("empty.mp4", b""), ("big.mp4", big))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "refused"
    assert [r["outcome"] for r in body["results"]] == ["not-video", "empty", "too-large"]
    assert "photo.mp4 was refused" in body["error"]
    assert not Video.objects.exists()


def test_it_names_the_files_over_the_count(api, owner, tiny, settings):
    settings.MAX_FILES_PER_UPLOAD = 1
    response = upload(api, ("one.mp4", tiny["mp4"]), ("two.webm", tiny["webm"]))
    assert response.status_code == 201
    assert [r["outcome"] for r in response.json()["results"]] == ["accepted", "too-many"]
    assert "two.webm" in response.json()["notice"]
    assert Video.objects.filter(owner=owner).count() == 1


def test_it_asks_for_files(api):
    response = api.post("/api/v1/videos", {"note": "no files"})
    assert response.status_code == 400
    assert response.json()["code"] == "refused"
    assert response.json()["error"] == "Choose one or more video files to upload."


def test_it_refuses_a_body_that_is_not_multipart(api):
    response = api.post("/api/v1/videos", b"--x\r\nbroken", content_type="multipart/form-data; boundary=x")
    assert response.status_code == 400
    assert response.json()["code"] in {"unreadable", "refused"}


def test_uploads_count_against_the_pages_limit(api, owner_client, tiny, settings):
    settings.RATELIMIT_UPLOAD_USER = "1/h"
    owner_client.post("/videos/upload/", {"files": [SimpleUploadedFile("a.mp4", tiny["mp4"])]})
    response = upload(api, ("b.webm", tiny["webm"]))
    assert response.status_code == 429
    assert response["Retry-After"]
    assert Video.objects.count() == 1


def test_it_reanalyses_a_finished_video_and_refuses_a_busy_one(api, world):
    video = world["video"]
    response = api.post(f"/api/v1/videos/{video.uuid}/reanalyse")
    assert response.status_code == 202
    video.refresh_from_db()
    assert video.status == "queued"
    assert response.json()["status"] == "queued"
    again = api.post(f"/api/v1/videos/{video.uuid}/reanalyse")
    assert again.status_code == 409
    assert again.json() == {"error": "This video is being analysed already.", "code": "busy"}
    assert video.analyses.count() == 1  # the history is kept


def test_it_deletes_a_video_with_its_files(api, world, storage, django_capture_on_commit_callbacks):
    video = world["video"]
    assert any(storage.rglob("*"))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/api/v1/videos/{video.uuid}")
    assert response.status_code == 204
    assert not Video.objects.filter(pk=video.pk).exists()
    assert not [p for p in storage.rglob("*") if p.is_file()]
    assert api.get(f"/api/v1/videos/{video.uuid}").status_code == 404


def test_a_garbage_id_is_a_json_404(api):
    response = api.get("/api/v1/videos/not-a-uuid")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_wrong_method_is_a_json_405(api, world):
    response = api.put(f"/api/v1/videos/{world['video'].uuid}")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert set(response["Allow"].split(", ")) == {"GET", "DELETE"}
