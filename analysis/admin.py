from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from analysis import clip_jobs, jobs, services
from analysis.models import Analysis, Clip, OnscreenTextSpan, Video
from core.admin_counts import LargeTableAdminMixin
from core.admin_input import AdminInputMixin


class AnalysisInline(admin.TabularInline):
    model = Analysis
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["created_at", "analyzer", "analyzer_version", "wall_time", "scene_count"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]

    @admin.display(description="scenes")
    def scene_count(self, analysis: Analysis) -> int:
        return len(analysis.scenes or [])

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Video)
class VideoAdmin(LargeTableAdminMixin, AdminInputMixin, admin.ModelAdmin):
    list_display = ["original_name", "owner", "status", "progress", "container", "size", "created_at"]
    list_filter = ["status", "container", "created_at"]
    search_fields = ["owner__email", "original_name"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    inlines = [AnalysisInline]
    actions = ["reanalyze", "requeue_lost"]
    # Rows change through the upload, the worker and the actions below, never by hand.
    readonly_fields = [
        "uuid",
        "owner",
        "original_name",
        "stored_name",
        "size",
        "sha256",
        "container",
        "status",
        "progress",
        "stage",
        "failure_reason",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
    ]
    fieldsets = [
        (None, {"fields": ["original_name", "owner", "uuid"]}),
        ("File", {"fields": ["stored_name", "size", "container", "sha256"]}),
        ("Analysis", {"fields": ["status", "progress", "stage", "failure_reason", "attempts"]}),
        ("Times", {"fields": ["created_at", "started_at", "finished_at", "heartbeat_at"]}),
    ]

    @admin.display(description="file")
    def stored_name(self, video: Video) -> str:
        # The storage name only: media is private and has no URL (owners see it through the media views).
        return video.file.name

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # videos arrive through the upload, which checks and stores them

    @admin.action(description="Re-analyse the selected videos")
    def reanalyze(self, request: HttpRequest, queryset: QuerySet[Video]) -> None:
        queued, busy = 0, 0
        for video in queryset:
            if video.is_finished:
                services.video_reanalyze(video=video)
                queued += 1
            else:
                busy += 1
        self.message_user(request, f"Queued {queued} video(s) for a fresh analysis.", messages.SUCCESS)
        if busy:
            self.message_user(
                request, f"Skipped {busy} video(s) that are being analysed already.", messages.WARNING
            )

    @admin.action(description="Re-queue lost jobs (checks every unfinished video)")
    def requeue_lost(self, request: HttpRequest, queryset: QuerySet[Video]) -> None:
        # Whether a job is lost depends on the queue and the heartbeat, not on the
        # selection, so this runs the same recovery as `manage.py queue recover`.
        recovered = jobs.recover_lost()
        if recovered:
            names = ", ".join(video.original_name for video in recovered)
            self.message_user(request, f"Re-queued {len(recovered)} video(s): {names}.", messages.SUCCESS)
        else:
            self.message_user(
                request, "No lost jobs: every unfinished video is queued or running.", messages.INFO
            )

    # Deleting here must remove the files too, as the owner's delete button does.
    def delete_model(self, request: HttpRequest, obj: Video) -> None:
        services.video_delete(video=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Video]) -> None:
        for video in queryset:
            services.video_delete(video=video)

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Analyses cannot be deleted on their own, but they go with their video.
        perms_needed.discard(Analysis._meta.verbose_name)
        return deleted, counts, perms_needed, protected


class OnscreenTextInline(admin.TabularInline):
    """The text the analysis read on screen, read-only: a record of what the analyzer saw."""

    model = OnscreenTextSpan
    extra = 0
    can_delete = False
    fields = ["start", "end", "text", "confidence", "height"]
    readonly_fields = fields
    ordering = ["start", "id"]
    verbose_name = "on-screen text"
    verbose_name_plural = "on-screen text"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Analysis)
class AnalysisAdmin(LargeTableAdminMixin, AdminInputMixin, admin.ModelAdmin):
    list_display = [
        "video",
        "owner",
        "analyzer",
        "analyzer_version",
        "wall_time",
        "gemini_tokens",
        "created_at",
    ]
    list_filter = ["analyzer", "analyzer_version", "created_at"]
    search_fields = ["video__original_name", "video__owner__email"]
    list_select_related = ["video__owner"]
    ordering = ["-created_at", "-id"]
    readonly_fields = [
        "video_link",
        "analyzer",
        "analyzer_version",
        "created_at",
        "wall_time",
        "metadata",
        "scenes",
        "timelines",
        "silences",
        "storyboard",
        "poster",
        "storyboard_image",
        "extra",
    ]
    exclude = ["video"]
    inlines = [OnscreenTextInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # an analysis is a record of what the analyzer said

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # analyses go with their video, whose delete removes their files

    @admin.display(description="owner", ordering="video__owner__email")
    def owner(self, analysis: Analysis) -> str:
        return analysis.video.owner.email

    @admin.display(description="Gemini tokens")
    def gemini_tokens(self, analysis: Analysis) -> int | None:
        """What Google counted for a Gemini analysis (prompt and output); empty for local ones."""
        usage = (analysis.extra or {}).get("usage") or {}
        return usage.get("total_tokens")

    @admin.display(description="video")
    def video_link(self, analysis: Analysis) -> str:
        url = reverse("admin:analysis_video_change", args=[analysis.video_id])
        return format_html('<a href="{}">{}</a>', url, analysis.video.original_name)


@admin.register(Clip)
class ClipAdmin(LargeTableAdminMixin, AdminInputMixin, admin.ModelAdmin):
    """Clips are made by their owners and cut by the worker: staff watch them, re-queue lost ones, delete."""

    list_display = ["video", "owner", "start", "end", "mode", "captions", "status", "progress", "created_at"]
    list_filter = ["status", "mode", "captions", "created_at"]
    search_fields = ["video__original_name", "video__owner__email"]
    list_select_related = ["video__owner"]
    ordering = ["-created_at", "-id"]
    actions = ["requeue_lost"]
    exclude = ["video"]
    readonly_fields = [
        "uuid",
        "video_link",
        "start",
        "end",
        "start_used",
        "mode",
        "captions",
        "animated_preview",
        "file",
        "preview",
        "poster",
        "size",
        "status",
        "progress",
        "stage",
        "failure_reason",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a clip is asked for on its video's page, which checks the range

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="owner", ordering="video__owner__email")
    def owner(self, clip: Clip) -> str:
        return clip.video.owner.email

    @admin.display(description="video")
    def video_link(self, clip: Clip) -> str:
        url = reverse("admin:analysis_video_change", args=[clip.video_id])
        return format_html('<a href="{}">{}</a>', url, clip.video.original_name)

    @admin.action(description="Re-queue lost clip jobs (checks every unfinished clip)")
    def requeue_lost(self, request: HttpRequest, queryset: QuerySet[Clip]) -> None:
        recovered = clip_jobs.CLIP.recover()
        self.message_user(request, f"Re-queued or failed {len(recovered)} lost clip(s).", messages.INFO)

    # Deleting here removes the files too, as the owner's delete button does.
    def delete_model(self, request: HttpRequest, obj: Clip) -> None:
        services.clip_delete(clip=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Clip]) -> None:
        for clip in queryset.select_related("video"):
            services.clip_delete(clip=clip)
