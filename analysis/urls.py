from django.urls import path

from analysis import upload, views

app_name = "analysis"

urlpatterns = [
    path("", views.video_list, name="video-list"),
    path("upload/", upload.upload_videos, name="video-upload"),
    path("<uuid:video_uuid>/", views.video_detail, name="video-detail"),
    path("<uuid:video_uuid>/file", views.video_file, name="video-file"),
    path("<uuid:video_uuid>/media/<path:name>", views.video_media, name="video-media"),
    path("<uuid:video_uuid>/reanalyze/", views.video_reanalyze, name="video-reanalyze"),
    path("<uuid:video_uuid>/delete/", views.video_delete, name="video-delete"),
]
