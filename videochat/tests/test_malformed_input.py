"""No 500 for malformed input, anywhere: every URL pattern walked with garbage.

Each URL pattern of the project (the admin's and django-rq's included) is one
test. PARAMS says what each view reads: query, form and header parameters,
and the kind of object each path argument names. A pattern missing from it
fails `test_every_url_pattern_has_an_entry`, so a new view cannot escape.

The path is filled with the owner's ids, a stranger's, unknown ones and (where
a converter takes any text) garbage. With the owner's ids, the owner, a
stranger and an anonymous user (and staff on the admin's patterns) each send
every HTTP method, a broken multipart body, and then:

- where the view serves them: each parameter in turn with each value of
  GARBAGE, the others valid (and again as htmx, where the view tells);
- where it refuses them (a 404, a log-in page): every parameter at once.

The others' and unknown ids get the methods from the owner (staff on the
admin). Every answer must be below 500. Rate limits are off, or their 429s
would answer before the garbage reached anything; each request is rolled
back, so a delete does not hide what follows it.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import django_rq
import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern

from accounts.models import ApiToken
from accounts.tokens import token_create
from analysis.models import Clip, TranscriptSegment, Video
from analysis.tests.conftest import make_video  # noqa: F401 (a fixture)
from analysis.tests.test_pages import make_analysis
from chat.models import Conversation, Message
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

GARBAGE: tuple[str | bytes, ...] = (
    "zzz",  # not a UUID, not a number
    "-1",
    "99999999999999999999",  # past a 64-bit integer
    "1e400",  # infinite as a float
    "NaN",
    "",
    "\x00",
    "ab\x00cd",  # NUL inside words: survives a search's word split
    "x" * 10_000,
    "\u202e\ufeff\U0001f3ac e\u0301 \u00a0\r\n",  # bidi override, BOM, emoji, combining mark, CR LF
    b"\xff\xfe\xc3",  # not UTF-8
    "00000000-0000-0000-0000-000000000000",  # a UUID nobody has
)
# The same parameter twice: views read the last, forms may read the list.
REPEATED = ("zzz", "-1")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# What str and path converters of a URL are filled with besides real ids.
PATH_GARBAGE = ("zzz", "-1", "99999999999999999999", "\x00", "x" * 10_000, b"\xff", "../a b%")


@dataclass(frozen=True)
class Spec:
    """What a view reads from the request, besides its session.

    `path` names the kind of object each URL argument is (see World.value).
    `valid` holds what the other parameters are while one of them is garbage
    (a kind of object, or the text itself), so the garbage reaches the code
    behind the form's other checks. `htmx` marks views that answer htmx
    requests differently.
    """

    query: tuple[str, ...] = ()
    form: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    path: dict[str, str] = field(default_factory=dict)
    valid: dict[str, str] = field(default_factory=dict)
    htmx: bool = False
    files: bool = False  # a multipart upload: `form` params are sent as files too


VIDEO = {"video_uuid": "video"}
CONVERSATION = {"conversation_uuid": "conversation"}
CLIP = {"clip_uuid": "clip"}
RANGE = ("Range", "If-Range")

PARAMS: dict[str, Spec] = {
    "home": Spec(query=("part",), htmx=True),
    "healthz": Spec(),
    "accounts:signup": Spec(
        form=("email", "password1", "password2"),
        valid={"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD},
        htmx=True,
    ),
    "accounts:login": Spec(
        query=("next",),
        form=("username", "password", "next"),
        valid={"username": "owner@example.com", "password": PASSWORD},
        htmx=True,
    ),
    "accounts:logout": Spec(htmx=True),
    "accounts:profile": Spec(),
    "accounts:password-change": Spec(
        form=("old_password", "new_password1", "new_password2"),
        valid={
            "old_password": PASSWORD,
            "new_password1": "a new passphrase 77",
            "new_password2": "a new passphrase 77",
        },
        htmx=True,
    ),
    "accounts:delete": Spec(form=("password",), htmx=True),
    "accounts:token-new": Spec(form=("name",), htmx=True),
    "accounts:token-revoke": Spec(path={"token_id": "api_token"}, htmx=True),
    "analysis:video-list": Spec(query=("q", "page"), htmx=True),
    "analysis:video-upload": Spec(form=("files",), htmx=True, files=True),
    "analysis:video-detail": Spec(path=VIDEO, query=("t",), htmx=True),
    "analysis:video-file": Spec(path=VIDEO, headers=RANGE),
    "analysis:video-media": Spec(path={**VIDEO, "name": "media"}, headers=RANGE),
    "analysis:video-reanalyze": Spec(path=VIDEO, htmx=True),
    "analysis:video-delete": Spec(path=VIDEO, htmx=True),
    "analysis:clip-list": Spec(query=("video",)),
    "analysis:clip-create": Spec(
        path=VIDEO,
        form=("start", "end", "mode", "captions", "animated_preview"),
        valid={"start": "0.5", "end": "1.5", "mode": "exact"},
        htmx=True,
    ),
    "analysis:clip-file": Spec(path=CLIP, query=("download",), headers=RANGE),
    "analysis:clip-preview": Spec(path=CLIP, headers=RANGE),
    "analysis:clip-poster": Spec(path=CLIP, headers=RANGE),
    "analysis:clip-delete": Spec(path=CLIP, htmx=True),
    "chat:list": Spec(query=("page",), htmx=True),
    "chat:new": Spec(form=("video",), htmx=True),
    "chat:thread": Spec(path=CONVERSATION, query=("part", "attach"), valid={"attach": "video"}, htmx=True),
    "chat:send": Spec(
        path=CONVERSATION,
        form=("text", "videos"),
        valid={"text": "How long is it?", "videos": "video"},
        htmx=True,
    ),
    "chat:older": Spec(path=CONVERSATION, query=("before",), valid={"before": "message"}),
    "chat:rename": Spec(path=CONVERSATION, form=("title",), htmx=True),
    "chat:delete": Spec(path=CONVERSATION, htmx=True),
    "chat:message": Spec(path={**CONVERSATION, "message_uuid": "message"}),
    "chat:retry": Spec(path={**CONVERSATION, "message_uuid": "reply"}, htmx=True),
    # The JSON API (api/): its bodies are JSON, so the form's garbage is an unreadable body
    # there; schemathesis sends it garbage JSON from its schema (api/tests/test_schemathesis.py).
    "api:openapi-json": Spec(),
    "api:openapi-view": Spec(),
    "api:redoc": Spec(),
    "api:api-root": Spec(),
    "api:not-found": Spec(),
    "api:videos": Spec(query=("page",), form=("files",), headers=("Authorization",), files=True),
    "api:video": Spec(path={"video_id": "video"}),
    "api:video-transcript": Spec(path={"video_id": "video"}),
    "api:video-reanalyse": Spec(path={"video_id": "video"}),
    "api:search": Spec(query=("q",), valid={"q": "holiday"}),
    "api:conversations": Spec(query=("page",), form=("title",)),
    "api:conversation": Spec(path={"conversation_id": "conversation"}, form=("title",)),
    "api:messages": Spec(
        path={"conversation_id": "conversation"},
        query=("cursor",),
        form=("text", "videos"),
        valid={"cursor": "message", "text": "How long is it?", "videos": "video"},
    ),
    "api:message": Spec(path={"conversation_id": "conversation", "message_id": "message"}),
    "api:message-retry": Spec(path={"conversation_id": "conversation", "message_id": "reply"}),
    # The admin site's own pages (its model pages are ADMIN_MODEL_VIEWS below).
    "admin:index": Spec(),
    "admin:login": Spec(query=("next",), form=("username", "password", "next")),
    "admin:logout": Spec(query=("next",), form=("next",)),
    "admin:password_change": Spec(form=("old_password", "new_password1", "new_password2")),
    "admin:password_change_done": Spec(),
    "admin:autocomplete": Spec(query=("term", "app_label", "model_name", "field_name", "page")),
    "admin:jsi18n": Spec(),
    "admin:view_on_site": Spec(path={"content_type_id": "content_type", "object_id": "video_pk"}),
    "admin:app_list": Spec(path={"app_label": "app_label"}),
    "admin/(?P<url>.*)$": Spec(path={"url": "admin_url"}),  # the catch-all, unnamed
    "admin:auth_user_password_change": Spec(
        path={"id": "user_pk"}, form=("password1", "password2", "usable_password")
    ),
}

# django-rq's pages, mounted twice: at /admin/rq/ and inside the admin.
QUEUE = {"queue_index": "queue_index"}
JOB = {**QUEUE, "job_id": "job"}
JOB_LIST = Spec(path=QUEUE, query=("page", "desc"))
RQ_PARAMS = {
    "home": Spec(),
    "home_json": Spec(path={"token": "token"}, headers=("Authorization",)),
    "jobs": JOB_LIST,
    "queue_details": Spec(path=QUEUE),
    "finished_jobs": JOB_LIST,
    "failed_jobs": JOB_LIST,
    "delete_failed_jobs": Spec(path=QUEUE),
    "scheduled_jobs": JOB_LIST,
    "started_jobs": JOB_LIST,
    "deferred_jobs": JOB_LIST,
    "clear": Spec(path=QUEUE),
    "requeue_all": Spec(path=QUEUE),
    "job_detail": Spec(path=JOB),
    "result_detail": Spec(path={**JOB, "result_id": "result"}),
    "delete_job": Spec(path=JOB),
    "requeue_job": Spec(path=JOB),
    "enqueue_job": Spec(path=JOB),
    "stop_job": Spec(path=JOB),
    "confirm_action": Spec(path=QUEUE, form=("action", "_selected_action"), headers=("Referer",)),
    "actions": Spec(
        path=QUEUE, form=("action", "job_ids", "next_url"), valid={"action": "requeue", "job_ids": "job"}
    ),
    "workers": Spec(path=QUEUE),
    "worker_details": Spec(path={**QUEUE, "key": "worker"}),
    "scheduler_jobs": Spec(path={"scheduler_index": "scheduler_index"}, query=("page",)),
    "cron_scheduler_detail": Spec(
        path={"connection_index": "connection_index", "scheduler_name": "scheduler"}
    ),
    "cron_job_detail": Spec(
        path={
            "connection_index": "connection_index",
            "scheduler_name": "scheduler",
            "cron_job_name": "cron_job",
        },
        query=("page",),
    ),
}
PARAMS.update({f"django_rq:{name}": spec for name, spec in RQ_PARAMS.items()})
PARAMS.update({f"admin:django_rq_{name}": spec for name, spec in RQ_PARAMS.items()})

# Every ModelAdmin's pages, by the end of their URL name ("" for the unnamed
# redirect from <object_id>/ to its change page). The fields of each model's
# forms and filters are added from the ModelAdmin itself (admin_params).
OBJECT = {"object_id": "object"}
# `all`, `e`, `_popup` and `_facets` are read only for whether they are there.
ADMIN_MODEL_VIEWS = {
    "changelist": Spec(
        query=("q", "o", "p", "_to_field"),
        form=("action", "_selected_action", "index", "select_across"),
    ),
    "add": Spec(query=("_to_field", "_changelist_filters")),
    "change": Spec(path=OBJECT, query=("_to_field", "_changelist_filters")),
    "delete": Spec(path=OBJECT, query=("_to_field",), form=("post",)),
    "history": Spec(path=OBJECT, query=("p",)),
    "": Spec(path=OBJECT),
}


# --- the URL patterns ------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    route: str  # the whole pattern, as Django prints it
    name: str | None  # namespaced
    pattern: URLPattern
    args: frozenset[str]
    str_args: frozenset[str]  # those that take any text (str, path and regex groups)

    @property
    def model_admin(self) -> admin.ModelAdmin | None:
        return getattr(self.pattern.callback, "model_admin", None)

    @property
    def key(self) -> str:
        """Where PARAMS keeps this pattern's entry (its route when it has no name)."""
        return self.name or self.route


def _walk(patterns, prefix="", namespaces=(), args=frozenset(), str_args=frozenset()) -> Iterator[Route]:
    for entry in patterns:
        inner_args, inner_str = args | _args(entry.pattern), str_args | _args(entry.pattern, text_only=True)
        if isinstance(entry, URLResolver):
            inner = namespaces + ((entry.namespace,) if entry.namespace else ())
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner, inner_args, inner_str)
        else:
            name = ":".join((*namespaces, entry.name)) if entry.name else None
            yield Route(prefix + str(entry.pattern), name, entry, inner_args, inner_str)


def _args(pattern, *, text_only: bool = False) -> frozenset[str]:
    if isinstance(pattern, RegexPattern):
        return frozenset(pattern.regex.groupindex)
    return frozenset(
        name
        for name, converter in pattern.converters.items()
        if not text_only or converter.regex in ("[^/]+", ".+")
    )


ROUTES = list(_walk(get_resolver().url_patterns))


def spec_for(route: Route) -> Spec | None:
    if route.key in PARAMS:
        return PARAMS[route.key]
    if route.model_admin is None:
        return None
    info = f"{route.model_admin.opts.app_label}_{route.model_admin.opts.model_name}"
    view = (route.name or f"admin:{info}_").removeprefix(f"admin:{info}_")
    return ADMIN_MODEL_VIEWS.get(view)


def _url(route: str, values: dict[str, str | bytes]) -> str:
    """The path of `route` with its arguments filled in (percent-encoded)."""

    def fill(match: re.Match) -> str:
        return quote(values[match["name"]], safe="" if match["conv"] in ("str", None) else "/")

    # The few regex routes (^stats.json/(?P<token>[\w]+)?/?$, the app index, the catch-all) first:
    # their groups look like converters.
    path = re.sub(r"\(\?P<(?P<name>\w+)>[^)]*\)\??(?P<conv>)", fill, route)
    path = re.sub(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>", fill, path)
    return "/" + path.replace("^", "").replace("$", "").replace("/?", "/")


# --- the objects the paths point at ---------------------------------------------------


class World:
    """The owner's and a stranger's objects, and the ids a URL argument of each kind takes."""

    def __init__(self, owner, outsider, staff, clip_path, new_video) -> None:
        self.users = {"own": owner, "stranger": outsider}
        self.staff = staff
        self.objects: dict[str, dict[str, Any]] = {
            side: self._objects(user, clip_path, new_video) for side, user in self.users.items()
        }
        queue = django_rq.get_queue("default")
        self.jobs = {side: queue.enqueue("os.getcwd").id for side in self.users}
        self.group = Group.objects.create(name="editors")
        self.clip = clip_path.read_bytes()

    @staticmethod
    def _objects(user, clip_path, new_video) -> dict[str, Any]:
        video = new_video(user, clip_path, name="holiday.mp4")
        analysis = make_analysis(video)
        TranscriptSegment.objects.create(analysis=analysis, start=0.0, end=2.0, text="hello holiday words")
        video.mark_done()
        conversation = Conversation.objects.create(owner=user, title="About my clip")
        question = Message.objects.create(conversation=conversation, role=Message.Role.USER, text="How long?")
        question.videos.add(video)
        reply = Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            reply_to=question,
            status=Message.Status.FAILED,
            failure_reason="the assistant was away",
        )
        return {
            "video": video,
            "clip": World._clip(video, analysis),
            "analysis": analysis,
            "conversation": conversation,
            "message": question,
            "reply": reply,
            "api_token": token_create(user=user, name="script")[0],
        }

    @staticmethod
    def _clip(video, analysis) -> Clip:
        """A made clip with files of its own (copies), so its file views have something to serve."""
        clip = Clip.objects.create(video=video, start=0.5, end=1.5)
        with video.file.open("rb") as fh:
            data = fh.read()
        with default_storage.open(analysis.poster, "rb") as fh:
            picture = fh.read()
        save = default_storage.save
        clip.mark_done(
            file=save(f"{clip.media_prefix}/clip.mp4", ContentFile(data)),
            preview=save(f"{clip.media_prefix}/preview.webp", ContentFile(picture)),
            poster=save(f"{clip.media_prefix}/poster.jpg", ContentFile(picture)),
            size=len(data),
            start_used=0.5,
        )
        return clip

    def value(self, kind: str, side: str, model_admin: admin.ModelAdmin | None = None) -> str:
        """A URL argument of this kind: the side's real one ("own", "stranger") or an "unknown" one."""
        if side == "unknown":
            return UNKNOWN.get(kind, str(uuid.uuid4()))
        objects = self.objects[side]
        if kind in ("video", "conversation", "message", "reply", "clip"):
            return str(objects[kind].uuid)
        if kind == "media":
            return objects["analysis"].poster
        if kind == "video_pk":
            return str(objects["video"].pk)
        if kind == "api_token":
            return str(objects["api_token"].pk)
        if kind == "user_pk":
            return str(self.users[side].pk)
        if kind == "content_type":
            return str(ContentType.objects.get_for_model(Video).pk)
        if kind == "object":
            return self._admin_object(model_admin, side)
        if kind == "job":
            return self.jobs[side]
        return KNOWN[kind][side]

    def _admin_object(self, model_admin: admin.ModelAdmin, side: str) -> str:
        model = model_admin.model
        by_model = {Video: "video", Conversation: "conversation", Message: "message"}
        if model in by_model:
            return str(self.objects[side][by_model[model]].pk)
        if model is type(self.staff):
            return str(self.users[side].pk)
        if model is Group:
            return str(self.group.pk)
        if model._meta.label == "analysis.Analysis":
            return str(self.objects[side]["analysis"].pk)
        if model is ApiToken:
            return str(self.objects[side]["api_token"].pk)
        return "1"  # django-rq's Dashboard: no table, no rows

    def valid(self, spec: Spec, name: str) -> str:
        kind = spec.valid[name]
        if kind in ("video", "message", "job"):
            return self.value(kind, "own")
        return kind


# Arguments with no object behind them: a real-looking one per side, and an unknown one.
KNOWN = {
    "queue_index": {"own": "0", "stranger": "2"},
    "scheduler_index": {"own": "0", "stranger": "0"},
    "connection_index": {"own": "0", "stranger": "0"},
    "token": {"own": "notthetoken", "stranger": "x"},
    "result": {"own": "1700000000000-0", "stranger": "x"},
    "worker": {"own": "rq:worker:nobody", "stranger": "nobody"},
    "scheduler": {"own": "nobody", "stranger": "x"},
    "cron_job": {"own": "os.getcwd", "stranger": "a/b"},
    "app_label": {"own": "analysis", "stranger": "chat"},
    "admin_url": {"own": "nothing/here/", "stranger": "analysis/video/zzz/change/"},
}
UNKNOWN = {
    "queue_index": "7",
    "scheduler_index": "7",
    "connection_index": "7",
    "video_pk": "999999999",
    "api_token": "999999999",
    "user_pk": "999999999",
    "object": "999999999",
    "content_type": "999999999",
    "job": "no-such-job",
    "media": "videos/none/poster.jpg",
    "token": "",
    "result": "no-such-result",
    "worker": "no-such-worker",
    "scheduler": "no-such-scheduler",
    "cron_job": "no-such-cron-job",
    "app_label": "auth",
    "admin_url": "zzz",
}


# --- the walk ----------------------------------------------------------------------------

LOG_IN_PAGES = ("/accounts/login/", "/admin/login/")


@dataclass
class Failure:
    role: str
    path_set: str
    method: str
    url: str
    param: str
    value: Any
    status: int
    error: str

    def __str__(self) -> str:
        value = self.value
        if len(repr(value)) > 60:
            value = f"{value[:20]!r}... ({len(value)} long)"
        return (
            f"{self.status} as {self.role} with {self.path_set}: {self.method} {self.url[:100]} "
            f"{self.param}={value!r}: {self.error}"
        )


class Role:
    """A client that stays who it is (a log-in, log-out or password change puts it back)."""

    def __init__(self, name: str, user) -> None:
        self.name, self.user = name, user
        self.client = Client(raise_request_exception=False)
        self.reset()

    def reset(self) -> None:
        self.client.cookies.clear()
        if self.user is not None:
            self.client.force_login(self.user)


class Walk:
    """Every request for one URL pattern; what answered 500 ends up in `failures`."""

    def __init__(self, route: Route, spec: Spec, world: World, roles: list[Role]) -> None:
        self.route, self.spec, self.world = route, spec, world
        self.roles = roles
        self.main = roles[0]  # the one that may see everything: staff on the admin, else the owner
        self.query, self.form, self.headers = admin_params(route, spec, world.staff)
        self.failures: list[Failure] = []
        self.sent = 0
        self.served = 0  # the deep sweeps that ran: none means the walk never reached the view

    def run(self) -> None:
        for path_set, values in self.path_sets():
            url = _url(self.route.route, values)
            if path_set in ("owner's ids", "no ids"):
                # Else the walk would test some other view, or the resolver's 404.
                assert resolve(url).route == self.route.route.replace("^", ""), f"{url} is not the route"
            # Others' and unknown ids take the same road whoever asks: the main role tries
            # them all, the others try the owner's objects.
            for role in self.roles if path_set in ("owner's ids", "no ids") else [self.main]:
                self.sweep(role, path_set, url)

    def path_sets(self) -> Iterator[tuple[str, dict]]:
        kinds = {arg: kind for arg, kind in self.spec.path.items() if arg in self.route.args}
        assert kinds.keys() == self.route.args, f"PARAMS names no kind for {self.route.args - kinds.keys()}"
        if not kinds:
            yield "no ids", {}
            return
        model_admin = self.route.model_admin
        sides = {"owner's ids": "own", "stranger's ids": "stranger", "unknown ids": "unknown"}
        for path_set, side in sides.items():
            yield path_set, {arg: self.world.value(kind, side, model_admin) for arg, kind in kinds.items()}
        own = {arg: self.world.value(kind, "own", model_admin) for arg, kind in kinds.items()}
        for garbage in PATH_GARBAGE if self.route.str_args else ():
            yield f"garbage id {garbage!r:.20}", {**own, **dict.fromkeys(self.route.str_args, garbage)}

    def sweep(self, role: Role, path_set: str, url: str) -> None:
        valid_query, valid_form = self.valid(self.query), self.valid(self.form)
        answers = [
            self.send(role, path_set, "GET", url, "(valid parameters)", None, query=valid_query),
            self.send(role, path_set, "POST", url, "(valid parameters)", None, form=valid_form),
        ]
        if path_set.startswith("garbage"):
            return  # the path is what is wrong: other methods read it the same way
        for method in METHODS:
            if (method == "GET" and not valid_query) or (method == "POST" and not valid_form):
                continue  # sent just above
            self.send(role, path_set, method, url, "(no parameters)", None)
        self.send(role, path_set, "POST", url, "(a broken multipart body)", None, body=BROKEN_MULTIPART)
        if path_set not in ("owner's ids", "no ids"):
            return  # a 404 for others' and unknown ids: the owner's, refused to others, go further
        if any(map(_served, answers)):
            self.served += 1
            self.deep(role, path_set, url)
        else:
            self.refused(role, path_set, url)

    def refused(self, role: Role, path_set: str, url: str) -> None:
        """A 404 or a log-in page: every parameter at once, each value in turn.

        Shows that the refusal does not trip over them first.
        """
        if not (self.query or self.form or self.headers):
            return
        for value in GARBAGE:
            query, form = dict.fromkeys(self.query, value), dict.fromkeys(self.form, value)
            headers = dict.fromkeys(self.headers, value)
            method = "POST" if form else "GET"
            self.send(
                role,
                path_set,
                method,
                url,
                "(every parameter)",
                value,
                query=query,
                form=form,
                headers=headers,
            )

    def deep(self, role: Role, path_set: str, url: str) -> None:
        """One parameter at a time with every value, the others valid; plain and htmx."""
        for htmx in (False, True) if self.spec.htmx else (False,):
            extra = {"HX-Request": "true"} if htmx else {}
            for name in (*self.query, *self.form, *self.headers):
                for value in (*GARBAGE, REPEATED):
                    if name in self.query:
                        query = {**self.valid(self.query), name: value}
                        self.send(role, path_set, "GET", url, name, value, query=query, headers=extra)
                    elif name in self.form:
                        form = {**self.valid(self.form), name: value}
                        self.send(role, path_set, "POST", url, name, value, form=form, headers=extra)
                        if self.spec.files and isinstance(value, str | bytes):
                            body = _video_upload(name, value, self.world.clip)
                            self.send(
                                role,
                                path_set,
                                "POST",
                                url,
                                f"{name} (a video named)",
                                value,
                                body=body,
                                headers=extra,
                            )
                    else:
                        self.send(role, path_set, "GET", url, name, value, headers={**extra, name: value})

    def valid(self, names: tuple[str, ...]) -> dict[str, str]:
        return {name: self.world.valid(self.spec, name) for name in names if name in self.spec.valid}

    def send(
        self, role, path_set, method, url, param, value, *, query=None, form=None, headers=None, body=None
    ):
        full = url + ("?" + _encode(query) if query else "")
        environ = {f"HTTP_{k.upper().replace('-', '_')}": _header(v) for k, v in (headers or {}).items()}
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs = {"data": body, "content_type": f"multipart/form-data; boundary={BOUNDARY}"}
        elif form:
            kwargs = {"data": _encode(form), "content_type": "application/x-www-form-urlencoded"}
        # Each request is undone, so a delete or a log-out does not hide what follows it.
        with transaction.atomic():
            response = role.client.generic(method, full, **kwargs, **environ)
            transaction.set_rollback(True)
        self.sent += 1
        if settings.SESSION_COOKIE_NAME in response.cookies:
            role.reset()
        if response.status_code >= 500:
            error = "(no exception)"
            if response.exc_info:
                error = f"{response.exc_info[0].__name__}: {str(response.exc_info[1])[:160]}"
            self.failures.append(
                Failure(role.name, path_set, method, full, param, value, response.status_code, error)
            )
        return response


def _served(response) -> bool:
    """Whether the view did its work (or refused the input), not the user."""
    if response.status_code in (401, 403, 404, 405):
        return False
    return not (response.status_code == 302 and response["Location"].startswith(LOG_IN_PAGES))


BOUNDARY = "BoUnDaRy"
BROKEN_MULTIPART = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a\r\n\r\n'.encode()


def _video_upload(field_name: str, file_name: str | bytes, content: bytes) -> bytes:
    """A multipart body with one real video under this file name, as a browser would send it."""
    if isinstance(file_name, str):
        file_name = file_name.encode()
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field_name}"; filename="'.encode()
        + file_name
        + b'"\r\nContent-Type: video/mp4\r\n\r\n'
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def _encode(params: dict) -> str:
    pairs = []
    for name, value in params.items():
        for one in value if isinstance(value, tuple) else (value,):
            pairs.append((name, one))
    return urlencode(pairs)


def _header(value) -> str:
    if isinstance(value, tuple):
        value = ",".join(value)
    # WSGI headers are latin-1 text: how a client's bytes arrive there.
    return value.decode("latin-1") if isinstance(value, bytes) else value.encode("utf-8").decode("latin-1")


def admin_params(route: Route, spec: Spec, staff) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The spec's parameters, plus those of a ModelAdmin's filters and forms on its pages.

    Of the filters and form fields that parse their value alike (the same filter
    class, the same form field and widget) one stands for the rest: Django's
    code is the same for each, and the admin's pages are the slowest to render.
    The add page takes the fields its form has beyond the change page's.
    """
    query, form, headers = spec.query, spec.form, spec.headers
    model_admin = route.model_admin
    if model_admin is None or route.name is None:
        return query, form, headers
    request = RequestFactory().get("/")
    request.user = staff
    view = route.name.rsplit("_", 1)[-1]
    if view == "changelist":
        filters = []
        if model_admin.list_filter:  # else the page may be no list at all (django-rq's Dashboard)
            specs = model_admin.get_changelist_instance(request).filter_specs
            params = [(spec_, param) for spec_ in specs for param in spec_.expected_parameters()]
            filters = _one_of_each(params, kind=_lookup_kind, names=lambda item: [item[1]])
        if model_admin.date_hierarchy:
            filters += [f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day")]
        query += tuple(filters)
    elif view in ("add", "change"):
        fields = _form_fields(model_admin, request, change=view == "change")
        if view == "add":
            fields = [name for name in fields if name not in _form_fields(model_admin, request, change=True)]
        form += tuple(fields)
    return query, form, headers


def _form_fields(model_admin: admin.ModelAdmin, request, *, change: bool) -> list[str]:
    form_class = model_admin.get_form(request, None, change=change)
    fields = _one_of_each(
        form_class.base_fields.items(),
        kind=lambda item: (type(item[1]), type(item[1].widget)),
        names=lambda item: [item[0]],
    )
    for inline in model_admin.get_inline_instances(request):
        formset = inline.get_formset(request)
        prefix = formset.get_default_prefix()
        fields += [
            f"{prefix}-TOTAL_FORMS",
            f"{prefix}-INITIAL_FORMS",
            *(f"{prefix}-0-{f}" for f in formset.form.base_fields),
        ]
    return fields


def _lookup_kind(item) -> tuple:
    """What a filter's parameter parses: `__isnull` a yes or no for any field, else a value of its field."""
    spec_, param = item
    lookup = param.rpartition("__")[2] if "__" in param else "exact"
    return (lookup,) if lookup == "isnull" else (type(getattr(spec_, "field", None)), lookup)


def _one_of_each(items, *, kind, names) -> list[str]:
    seen: set = set()
    chosen = []
    for item in items:
        if kind(item) not in seen:
            seen.add(kind(item))
            chosen += names(item)
    return chosen


# Patterns no request can get past their refusal: there is nothing behind them here.
NEVER_SERVED = {
    "api:not-found",  # any other URL under /api/v1/: a 404 by design
    "api:api-root",  # ninja needs the pattern to know where the API is; a 404 as well
    "admin:autocomplete",  # no admin here has autocomplete_fields: every request is a 403
    "admin/(?P<url>.*)$",  # the catch-all: a 404 by design
    "admin:analysis_video_add",  # videos arrive through the upload only
    "admin:analysis_analysis_add",  # analyses are the analyzer's record
    "admin:analysis_analysis_delete",
    "admin:analysis_clip_add",  # clips are asked for on their video's page
    "admin:accounts_apitoken_add",  # tokens are made by their owner, on the profile page
    "admin:django_rq_dashboard_add",
    # No job here has results, no worker or cron scheduler runs, rq-scheduler is not installed.
    *(
        f"{prefix}{view}"
        for prefix in ("django_rq:", "admin:django_rq_")
        for view in (
            "result_detail",
            "worker_details",
            "scheduler_jobs",
            "cron_scheduler_detail",
            "cron_job_detail",
        )
    ),
}


# --- the tests -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_and_unlimited(settings, caplog, monkeypatch):
    # A real hasher would spend most of the walk checking passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # 429s would answer for the view long before the garbage reached it.
    settings.RATELIMIT_ENABLE = False
    # Thousands of 404s and 405s: only the errors are worth a line.
    caplog.set_level(logging.ERROR, logger="django.request")
    # The walk reads no response.context: copying every template's context would
    # cost a third of its time on the admin's pages.
    monkeypatch.setattr("django.test.client.store_rendered_templates", lambda *args, **kwargs: None)


@pytest.fixture
def world(owner, outsider, make_user, clips, make_video):  # noqa: F811 (the fixture imported above)
    staff = make_user("staff@example.com", is_staff=True, is_superuser=True)
    return World(owner, outsider, staff, clips["short"].path, make_video)


def test_every_url_pattern_has_an_entry():
    missing = sorted({route.key for route in ROUTES if spec_for(route) is None})
    assert not missing, f"add these URL patterns to PARAMS with the parameters their views read: {missing}"


def test_every_entry_names_a_url_pattern():
    keys = {route.key for route in ROUTES}
    for table in (PARAMS, NEVER_SERVED):
        stale = sorted(set(table) - keys)
        assert not stale, f"entries for URL patterns that no longer exist: {stale}"


@pytest.mark.parametrize(
    "route",
    ROUTES,
    ids=[f"{route.route} {route.name or ''}".strip() for route in ROUTES],
)
def test_no_url_answers_500_to_malformed_input(route, world):
    spec = spec_for(route)
    assert spec is not None, "no entry in PARAMS (see test_every_url_pattern_has_an_entry)"
    roles = [
        Role("owner", world.users["own"]),
        Role("stranger", world.users["stranger"]),
        Role("anonymous", None),
    ]
    if route.route.startswith("admin/"):
        roles.insert(0, Role("staff", world.staff))
    walk = Walk(route, spec, world, roles)
    walk.run()
    assert walk.served or route.key in NEVER_SERVED, "no role reached the view: fix the path's ids"
    assert not walk.failures, f"{len(walk.failures)} of {walk.sent} requests answered 500:\n" + "\n".join(
        str(f) for f in walk.failures[:25]
    )
