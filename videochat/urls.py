from django.contrib import admin
from django.urls import include, path

from accounts.views import log_in_limited
from core import views

# Django admin's log-in form counts against the same limits as ours (wrapping
# the site's login view is how django-allauth's docs guard the admin too).
admin.site.login = log_in_limited(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("videos/", include("analysis.urls")),
    path("chat/", include("chat.urls")),
    path("api/v1/", include("api.urls")),
    path("admin/rq/", include("ops.rq_urls")),
    path("admin/", admin.site.urls),
]
