from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from analysis import cache as video_cache
from analysis.models import Video
from analysis.upload import upload_limits
from chat import cache, selectors, services
from chat.forms import MessageForm, TitleForm
from chat.live import render_appended
from chat.models import Conversation, Message
from chat.presenters import fresh_open_rows, message_row, thread_rows
from core.http import redirect_to
from core.paging import requested_page
from core.params import uuid_or_none
from core.ratelimits import Limit, over_limit

NEW_CONVERSATIONS = Limit("conversation-user", "user", "RATELIMIT_CONVERSATION_USER", "new conversations")
# Every reply asked for, sent or retried, counts here.
MESSAGES = Limit("chat-user", "user", "RATELIMIT_CHAT_USER", "messages in a short time")


def _get_conversation_for_user(request: HttpRequest, conversation_uuid) -> Conversation:
    return selectors.conversation_for_user(request.user, conversation_uuid)


def thread_cache_name(conversation_uuid, user_id: int) -> str:
    # The page shows videos too: their version is part of the name, so a video's
    # change (its analysis finished, say) is a miss as much as a new message is.
    return f"thread:{conversation_uuid}:videos-{video_cache.version(user_id)}"


def _thread_context(request: HttpRequest, conversation_uuid, form: MessageForm | None = None) -> dict:
    """The thread page's data, cache-first.

    The owner check runs when the data is built: a hit under this user's
    namespace is a conversation this user owned when it was cached, and every
    change to it (a message, a rename, deletion) bumps the version. So a hit
    needs no database at all, and a stranger always misses and gets a 404.
    """

    def build() -> dict:
        conversation = _get_conversation_for_user(request, conversation_uuid)
        return {
            "conversation": conversation,
            **thread_rows(conversation, limit=settings.CHAT_PAGE_SIZE),
            "attached": list(conversation.attached_videos()),
            "my_videos": [_picker_row(v) for v in Video.objects.owned_by(request.user)[:50]],
        }

    data = cache.cached(request.user.pk, thread_cache_name(conversation_uuid, request.user.pk), build)
    return {
        **data,
        "parts": fresh_open_rows(data["parts"]),
        "form": form or MessageForm(owner=request.user),
        "max_chars": settings.CHAT_MAX_MESSAGE_CHARS,
        "max_attachments": settings.CHAT_MAX_ATTACHMENTS,
        "upload_limits": upload_limits(),
    }


@login_required
@require_GET
def conversation_list(request: HttpRequest) -> HttpResponse:
    page = selectors.conversations_page(request.user, requested_page(request))
    template = "chat/list.html#conversations" if request.htmx else "chat/list.html"
    return render(request, template, {"conversations": page.items, "page": page})


@login_required
@require_POST
def conversation_new(request: HttpRequest) -> HttpResponse:
    """Start a conversation; from a video's page (`video`), with that video ready to attach."""
    if refused := over_limit(request, NEW_CONVERSATIONS, back=reverse("chat:list")):
        return refused
    conversation = services.conversation_create(owner=request.user)
    url = conversation.get_absolute_url()
    if video := _own_video(request, request.POST.get("video")):
        url += "?" + urlencode({"attach": video.uuid})
    return redirect_to(request, url)


def _picker_row(video: Video) -> dict:
    """A video as the composer's picker lists it."""
    return {
        "uuid": str(video.uuid),
        "name": video.original_name,
        "status": video.get_status_display().lower(),
    }


def _own_video(request: HttpRequest, video_uuid: str | None) -> Video | None:
    """The user's video with this public id; None for a bad id or someone else's."""
    uuid = uuid_or_none(video_uuid)
    return Video.objects.owned_by(request.user).filter(uuid=uuid).first() if uuid else None


@login_required
@require_GET
def thread(request: HttpRequest, conversation_uuid) -> HttpResponse:
    context = _thread_context(request, conversation_uuid)
    if request.htmx and request.GET.get("part") == "attachments":
        return render(request, "chat/thread.html#attachments", context)
    if request.htmx and request.GET.get("part") == "latest":
        # The page re-reads this when its socket (re)connects: pushes sent meanwhile were lost.
        return HttpResponse(render_appended(context["conversation"], context["parts"], request))
    if video := _own_video(request, request.GET.get("attach")):
        # Ticked in the composer's picker (listed first: it may be older than the picker's newest).
        chosen = _picker_row(video)
        others = [v for v in context["my_videos"] if v["uuid"] != chosen["uuid"]]
        context = {**context, "my_videos": [chosen, *others], "preselected": chosen["uuid"]}
    return render(request, "chat/thread.html", context)


@login_required
@require_GET
def older_messages(request: HttpRequest, conversation_uuid) -> HttpResponse:
    conversation = _get_conversation_for_user(request, conversation_uuid)
    before_uuid = uuid_or_none(request.GET.get("before"))
    before = before_uuid and Message.objects.filter(conversation=conversation, uuid=before_uuid).first()
    if before is None:
        raise Http404("No such message in this conversation.")
    page = cache.cached(
        request.user.pk,
        f"thread:{conversation.uuid}:before:{before.uuid}",
        lambda: thread_rows(conversation, before=before, limit=settings.CHAT_PAGE_SIZE),
    )
    return render(request, "chat/_older.html", {"conversation": conversation, **page})


@login_required
@require_POST
def message_send(request: HttpRequest, conversation_uuid) -> HttpResponse:
    conversation = _get_conversation_for_user(request, conversation_uuid)
    if limited := over_limit(request, MESSAGES, back=conversation.get_absolute_url()):
        return limited
    form = MessageForm(request.POST, owner=request.user)
    if not form.is_valid():
        if request.htmx:
            return render(request, "chat/thread.html#composer-errors", {"form": form}, status=400)
        return render(
            request, "chat/thread.html", _thread_context(request, conversation.uuid, form), status=400
        )
    question, reply = services.message_send(
        conversation=conversation, text=form.cleaned_data["text"], videos=form.cleaned_data["videos"]
    )
    if not request.htmx:
        return redirect(conversation.get_absolute_url())
    # The page merges these by id with what pushes may already have put there.
    response = HttpResponse(
        render_appended(conversation, [message_row(question), message_row(reply)], request)
    )
    response["HX-Trigger"] = "message-sent"
    return response


@login_required
@require_GET
def message_detail(request: HttpRequest, conversation_uuid, message_uuid) -> HttpResponse:
    """One message as it is now (a page asks when it missed part of a reply's stream)."""
    conversation = _get_conversation_for_user(request, conversation_uuid)
    message = get_object_or_404(
        Message.objects.prefetch_related("videos"), conversation=conversation, uuid=message_uuid
    )
    response = render(request, "chat/_message.html", {"m": message_row(message)})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def message_retry(request: HttpRequest, conversation_uuid, message_uuid) -> HttpResponse:
    conversation = _get_conversation_for_user(request, conversation_uuid)
    message = get_object_or_404(
        Message, conversation=conversation, uuid=message_uuid, role=Message.Role.ASSISTANT
    )
    if message.status != Message.Status.FAILED:
        return redirect_to(request, conversation.get_absolute_url())
    if limited := over_limit(request, MESSAGES, back=conversation.get_absolute_url()):
        return limited
    services.message_retry(message=message)
    if request.htmx:
        return render(request, "chat/_message.html", {"m": message_row(message)})
    return redirect(conversation.get_absolute_url())


@login_required
@require_POST
def conversation_rename(request: HttpRequest, conversation_uuid) -> HttpResponse:
    conversation = _get_conversation_for_user(request, conversation_uuid)
    form = TitleForm(request.POST)
    if form.is_valid():
        services.conversation_rename(conversation=conversation, title=form.cleaned_data["title"])
    status = 200 if form.is_valid() else 400
    if request.htmx:
        return render(
            request,
            "chat/thread.html#title",
            {"conversation": conversation, "title_form": form},
            status=status,
        )
    if status == 400:
        return render(
            request,
            "chat/thread.html",
            {**_thread_context(request, conversation.uuid), "title_form": form},
            status=400,
        )
    return redirect(conversation.get_absolute_url())


@login_required
@require_POST
def conversation_delete(request: HttpRequest, conversation_uuid) -> HttpResponse:
    conversation = _get_conversation_for_user(request, conversation_uuid)
    title = str(conversation)
    services.conversation_delete(conversation=conversation)
    messages.success(request, f"Deleted the conversation “{title}”.")
    return redirect_to(request, "/chat/")
