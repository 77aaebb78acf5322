from __future__ import annotations

from django import forms
from django.conf import settings

from analysis.models import Video


class MessageForm(forms.Form):
    text = forms.CharField(
        required=False,
        strip=True,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "Ask about your videos…", "autocomplete": "off"}
        ),
    )
    videos = forms.ModelMultipleChoiceField(
        queryset=Video.objects.none(), required=False, to_field_name="uuid"
    )

    def __init__(self, *args, owner, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["videos"].queryset = Video.objects.owned_by(owner)
        self.fields["videos"].error_messages["invalid_choice"] = "That video is not one of yours."
        self.fields["text"].max_length = settings.CHAT_MAX_MESSAGE_CHARS

    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        limit = settings.CHAT_MAX_MESSAGE_CHARS
        if len(text) > limit:
            raise forms.ValidationError(
                f"Your message is {len(text):,} characters long; the limit is {limit:,}. Please shorten it."
            )
        return text

    def clean_videos(self) -> list[Video]:
        videos = list(self.cleaned_data["videos"])
        limit = settings.CHAT_MAX_ATTACHMENTS
        if len(videos) > limit:
            raise forms.ValidationError(f"You can attach at most {limit} videos to one message.")
        return videos

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors and not cleaned.get("text") and not cleaned.get("videos"):
            raise forms.ValidationError("Write a message or attach a video.")
        return cleaned


class TitleForm(forms.Form):
    title = forms.CharField(max_length=120, strip=True)
