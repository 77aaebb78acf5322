from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from analysis.models import Video


class Conversation(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or "New conversation"

    def get_absolute_url(self) -> str:
        return reverse("chat:thread", args=[self.uuid])

    def attached_videos(self) -> models.QuerySet[Video]:
        """Every video attached anywhere in this conversation, oldest first."""
        return Video.objects.filter(chat_messages__conversation=self).distinct().order_by("created_at", "id")


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "You"
        ASSISTANT = "assistant", "Assistant"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        STREAMING = "streaming", "Streaming"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        REPLY = "reply", "Reply"
        SUMMARY = "summary", "Analysis summary"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REPLY)
    text = models.TextField(blank=True)
    # For a user's message: what they attached. For a summary: the video it is about.
    videos = models.ManyToManyField(Video, blank=True, related_name="chat_messages")
    # Videos this reply said were still being analysed: a summary follows when each finishes.
    waiting_for = models.ManyToManyField(Video, blank=True, related_name="awaited_by")
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.COMPLETE)
    failure_reason = models.TextField(blank=True)
    provider = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Goes up with every change of state a page shows; the text streamed so far
    # is ordered by its length within one version (README, "Live updates").
    version = models.PositiveIntegerField(default=1)

    class Meta:
        db_table = "chat_messages"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.text[:60]}"

    @property
    def is_open(self) -> bool:
        return self.status in {self.Status.PENDING, self.Status.STREAMING}

    def mark_streaming(self, *, provider: str, model: str) -> None:
        self.status = self.Status.STREAMING
        self.provider, self.model = provider, model
        self.attempts += 1
        self.failure_reason = ""
        self.text = ""
        self.updated_at = timezone.now()
        self.version += 1
        self.save(
            update_fields=[
                "version",
                "status",
                "provider",
                "model",
                "attempts",
                "failure_reason",
                "text",
                "updated_at",
            ]
        )

    def mark_complete(self, text: str) -> None:
        self.status = self.Status.COMPLETE
        self.text = text
        self.updated_at = timezone.now()
        self.version += 1
        self.save(update_fields=["version", "status", "text", "updated_at"])

    def mark_failed(self, reason: str) -> None:
        self.status = self.Status.FAILED
        self.failure_reason = reason
        self.updated_at = timezone.now()
        self.version += 1
        self.save(update_fields=["version", "status", "failure_reason", "updated_at"])

    def mark_pending(self) -> None:
        self.status = self.Status.PENDING
        self.failure_reason = ""
        self.updated_at = timezone.now()
        self.version += 1
        self.save(update_fields=["version", "status", "failure_reason", "updated_at"])

    def is_stalled(self, stale_after: timedelta) -> bool:
        return self.status == self.Status.STREAMING and timezone.now() - self.updated_at > stale_after
