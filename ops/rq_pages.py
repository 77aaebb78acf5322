"""django-rq's queue pages, with what their URLs and forms name looked up first.

django-rq 4.2's views take a queue index, a job id and a worker key from the
URL and fetch them without a check: an index past the queues is an
IndexError, a job that is gone a NoSuchJobError, an id with a character rq
does not allow a ValueError, and each is a 500. Their forms' next page (a
field, or the Referer) goes to `redirect()`, which reads text without a slash
as a view's name (NoReverseMatch). `guarded` resolves each of these the way
`get_object_or_404` would before django-rq's view runs: a 404 for what does
not exist, a next page only when it is a page of this site.

Both mounts of these pages use it: the admin's (ops/admin.py) and
`ops.rq_urls`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.http import url_has_allowed_host_and_scheme
from django_rq import views
from django_rq.queues import get_queue_by_index
from django_rq.settings import get_queues_list
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.queue import Queue
from rq.worker import Worker

# The form fields that name jobs, and those that name the page to go back to.
JOB_LISTS = ("job_ids", "_selected_action")
NEXT_FIELDS = ("next_url",)


def guarded(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def guarded_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not (request.user.is_active and request.user.is_staff):
            return view(request, *args, **kwargs)  # its own check sends them to log in
        if "scheduler_index" in kwargs:
            _queue_or_404(kwargs["scheduler_index"])
            if importlib.util.find_spec("rq_scheduler") is None:
                raise Http404("No scheduler: rq-scheduler is not installed.")
        if "queue_index" in kwargs:
            queue = _queue_or_404(kwargs["queue_index"])
            if "job_id" in kwargs:
                job = _job(queue, kwargs["job_id"])
                if job is None:
                    raise Http404("No such job.")
                if view is views.requeue_job_view and request.method == "POST" and not job.is_failed:
                    return HttpResponseBadRequest("Only a failed job can be requeued.")
            if "key" in kwargs:
                _worker_or_404(queue, kwargs["key"])
            if request.method == "POST":
                _keep_existing_jobs(request, queue)
        _keep_safe_next(request)
        return view(request, *args, **kwargs)

    return guarded_view


def _queue_or_404(index: int) -> Queue:
    if not 0 <= index < len(get_queues_list()):
        raise Http404("No such queue.")
    return get_queue_by_index(index)


def _job(queue: Queue, job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer)
    except (NoSuchJobError, ValueError):  # ValueError: not an id rq allows
        return None


def _worker_or_404(queue: Queue, key: str) -> Worker:
    worker = None
    if key.startswith(Worker.redis_worker_namespace_prefix):
        worker = Worker.find_by_key(key, connection=queue.connection)
    if worker is None:
        raise Http404("No such worker.")
    return worker


def _keep_existing_jobs(request: HttpRequest, queue: Queue) -> None:
    """The form's job ids, less those of jobs that do not exist (django-rq would fetch them unchecked)."""
    post = request.POST.copy()
    for field in JOB_LISTS:
        if field in post:
            post.setlist(field, [job_id for job_id in post.getlist(field) if _job(queue, job_id)])
    request.POST = post


def _keep_safe_next(request: HttpRequest) -> None:
    """Drop a next page that is not a page of this site: django-rq then goes to its own default."""
    unsafe = [field for field in NEXT_FIELDS if not _is_page(request, request.POST.get(field))]
    if unsafe:
        post = request.POST.copy()
        for field in unsafe:
            post.pop(field)
        request.POST = post
    if not _is_page(request, request.META.get("HTTP_REFERER")):
        del request.META["HTTP_REFERER"]


def _is_page(request: HttpRequest, url: str | None) -> bool:
    if not url:
        return True  # nothing to follow: django-rq's default
    return url.startswith(("/", "http://", "https://")) and url_has_allowed_host_and_scheme(
        url, {request.get_host()}, require_https=request.is_secure()
    )
