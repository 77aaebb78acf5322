"""Admin pages of apps that are not ours, with malformed URLs refused (core/admin_input.py).

django-rq's queue pages sit in the admin as the changelist of its table-less
Dashboard model; they are registered again here behind ops.rq_pages.guarded.
Django's Group admin gets the same mixin as our own admins. This module runs
after theirs: ops comes after both apps in INSTALLED_APPS.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.models import Group
from django_rq.admin import QueueAdmin as BaseQueueAdmin
from django_rq.models import Dashboard
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

from core.admin_input import AdminInputMixin
from ops.rq_pages import guarded


class QueueAdmin(AdminInputMixin, BaseQueueAdmin):
    def get_urls(self):
        # django-rq's own get_urls, with each of its pages behind `guarded`.
        def wrap(view):
            @wraps(view)
            def wrapper(request, *args, **kwargs):
                request.current_app = self.admin_site.name
                return self.admin_site.admin_view(view)(request, *args, **kwargs)

            return wrapper

        pages = get_admin_urlpatterns(name_prefix="django_rq_", view_wrapper=lambda view: wrap(guarded(view)))
        return get_api_urlpatterns(name_prefix="django_rq_") + pages + admin.ModelAdmin.get_urls(self)

    def get_object(self, request, object_id, from_field=None):
        return None  # Dashboard has no table: no object page has a row to show


class GroupAdmin(AdminInputMixin, BaseGroupAdmin):
    pass


# Only where they are registered: RQ_SHOW_ADMIN_LINK=False leaves the queue pages out.
for model, model_admin in ((Dashboard, QueueAdmin), (Group, GroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
        admin.site.register(model, model_admin)
