"""django-rq's queue pages for `include()`, each behind ops.rq_pages.guarded.

The same patterns as `django_rq.urls`, under the same namespace.
"""

from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

from ops.rq_pages import guarded

app_name = "django_rq"
urlpatterns = get_api_urlpatterns() + get_admin_urlpatterns(view_wrapper=guarded)
