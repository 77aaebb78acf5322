from django.contrib import admin
from django.urls import include, path

from videochat import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("videos/", include("analysis.urls")),
    path("chat/", include("chat.urls")),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]
