"""Conversations and their messages, through the chat pages' selectors, services, forms and limits."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status

from api import schemas
from api.errors import ApiError, answers, check_limit, from_form, invalid
from api.videos import PageQuery
from chat import selectors, services
from chat.forms import MessageForm, TitleForm
from chat.models import Message
from chat.presenters import message_row
from chat.views import MESSAGES, NEW_CONVERSATIONS
from core.params import uuid_or_none

router = Router(tags=["conversations"])


class CursorQuery(Schema):
    cursor: str | None = Field(None, description="The `next_cursor` of the page before: older messages.")


@router.get(
    "/conversations",
    response=answers({200: schemas.ConversationPage}),
    url_name="conversations",
    summary="Your conversations, latest activity first",
)
def conversation_list(request: HttpRequest, query: Query[PageQuery]):
    page = selectors.conversations_page(request.user, query.page)
    items = [{**row, "id": row["uuid"], "message_count": row["count"]} for row in page.items]
    return {"items": items, "page": page.number, "pages": page.num_pages, "count": page.count}


@router.post(
    "/conversations",
    response=answers({201: schemas.ConversationOut}),
    url_name="conversations",
    summary="Start a conversation",
)
def conversation_create(request: HttpRequest, payload: schemas.ConversationIn):
    title = payload.title
    form = None
    if title is not None:
        form = TitleForm({"title": title})
        if not form.is_valid():
            raise from_form(form)
    check_limit(request, NEW_CONVERSATIONS)
    conversation = services.conversation_create(owner=request.user)
    if form is not None:
        services.conversation_rename(conversation=conversation, title=form.cleaned_data["title"])
    return Status(201, conversation)


@router.get(
    "/conversations/{uuid:conversation_id}",
    response=answers({200: schemas.ConversationOut}),
    url_name="conversation",
    summary="One conversation",
)
def conversation_detail(request: HttpRequest, conversation_id: UUID):
    return selectors.conversation_for_user(request.user, conversation_id)


@router.patch(
    "/conversations/{uuid:conversation_id}",
    response=answers({200: schemas.ConversationOut}),
    url_name="conversation",
    summary="Rename a conversation",
)
def conversation_rename(request: HttpRequest, conversation_id: UUID, payload: schemas.TitleIn):
    conversation = selectors.conversation_for_user(request.user, conversation_id)
    form = TitleForm({"title": payload.title})
    if not form.is_valid():
        raise from_form(form)
    services.conversation_rename(conversation=conversation, title=form.cleaned_data["title"])
    return conversation


@router.delete(
    "/conversations/{uuid:conversation_id}",
    response=answers({204: None}),
    url_name="conversation",
    summary="Delete a conversation with its messages",
)
def conversation_delete(request: HttpRequest, conversation_id: UUID):
    conversation = selectors.conversation_for_user(request.user, conversation_id)
    services.conversation_delete(conversation=conversation)
    return Status(204, None)


@router.get(
    "/conversations/{uuid:conversation_id}/messages",
    response=answers({200: schemas.MessagePage}),
    url_name="messages",
    summary="Messages, newest first, a page at a time",
)
def message_list(request: HttpRequest, conversation_id: UUID, query: Query[CursorQuery]):
    before = None
    if query.cursor:
        before = uuid_or_none(query.cursor)
        if before is None:
            selectors.conversation_for_user(request.user, conversation_id)  # a stranger's is a 404 first
            raise invalid({"cursor": ["This is not a cursor this API gave out."]})
    try:
        page = selectors.messages_page(
            request.user, conversation_id, before_uuid=before, limit=settings.CHAT_PAGE_SIZE
        )
    except selectors.UnknownCursor:
        raise invalid({"cursor": ["No message of this conversation has this cursor."]}) from None
    rows = page["rows"]
    return _message_page(
        request,
        {
            "items": [_item(row) for row in rows],
            "next_cursor": rows[-1]["uuid"] if page["has_more"] and rows else None,
        },
    )


# MessageOut's fields, in its order: what a page's item keeps of a row, as validation would.
ITEM_FIELDS = tuple(schemas.MessageOut.model_fields)


def _item(row: dict) -> dict:
    out = _row_out(row)
    return {name: out[name] for name in ITEM_FIELDS}


def _message_page(request: HttpRequest, page: dict) -> HttpResponse:
    """The page rendered by ninja's own renderer, without validating it against
    schemas.MessagePage first: its rows are the cache's plain data (message_row),
    already of the schema's types, and checking 30 of them only to dump them again
    took two thirds as long as rendering them. A test holds it to the validated answer."""
    from api.main import api  # which imports this module

    return api.create_response(request, page, status=200)


@router.post(
    "/conversations/{uuid:conversation_id}/messages",
    response=answers({201: schemas.MessageSent}),
    url_name="messages",
    summary="Send a message (with videos attached); the reply is queued",
)
def message_send(request: HttpRequest, conversation_id: UUID, payload: schemas.MessageIn):
    conversation = selectors.conversation_for_user(request.user, conversation_id)
    check_limit(request, MESSAGES)
    form = MessageForm({"text": payload.text, "videos": payload.videos}, owner=request.user)
    if not form.is_valid():
        raise from_form(form)
    question, reply = services.message_send(
        conversation=conversation, text=form.cleaned_data["text"], videos=form.cleaned_data["videos"]
    )
    return Status(201, {"question": _out(question), "reply": _out(reply)})


def _message(request: HttpRequest, conversation_id: UUID, message_id: UUID, **filters) -> Message:
    conversation = selectors.conversation_for_user(request.user, conversation_id)
    return get_object_or_404(
        Message.objects.select_related("conversation").prefetch_related("videos"),
        conversation=conversation,
        uuid=message_id,
        **filters,
    )


def _out(message: Message) -> dict:
    return _row_out(message_row(message))


def _row_out(row: dict) -> dict:
    """A message's row (chat.presenters, as the thread page and its cache have it) as the API gives it."""
    return {**row, "id": row["uuid"], "videos": [{"id": v["uuid"], "name": v["name"]} for v in row["videos"]]}


@router.get(
    "/conversations/{uuid:conversation_id}/messages/{uuid:message_id}",
    response=answers({200: schemas.MessageOut}),
    url_name="message",
    summary="One message as it is now (poll a reply being written)",
)
def message_detail(request: HttpRequest, conversation_id: UUID, message_id: UUID):
    return _out(_message(request, conversation_id, message_id))


@router.post(
    "/conversations/{uuid:conversation_id}/messages/{uuid:message_id}/retry",
    response=answers({202: schemas.MessageOut}, 409),
    url_name="message-retry",
    summary="Ask again for a reply that failed",
)
def message_retry(request: HttpRequest, conversation_id: UUID, message_id: UUID):
    message = _message(request, conversation_id, message_id, role=Message.Role.ASSISTANT)
    if message.status != Message.Status.FAILED:
        raise ApiError(409, "not_failed", "Only a reply that failed can be asked for again.")
    check_limit(request, MESSAGES)
    services.message_retry(message=message)
    return Status(202, _out(message))
