from django.urls import path

from analysis import clip_views, upload, views

app_name = "analysis"

urlpatterns = [
    path("", views.video_list, name="video-list"),
    path("upload/", upload.upload_videos, name="video-upload"),
    path("clips/", clip_views.clip_list, name="clip-list"),
    path("clips/<uuid:clip_uuid>/file", clip_views.clip_file, name="clip-file"),
    path(
        "clips/<uuid:clip_uuid>/preview.webp",
        clip_views.clip_picture,
        {"which": "preview"},
        name="clip-preview",
    ),
    path(
        "clips/<uuid:clip_uuid>/poster.jpg", clip_views.clip_picture, {"which": "poster"}, name="clip-poster"
    ),
    path("clips/<uuid:clip_uuid>/delete/", clip_views.clip_delete, name="clip-delete"),
    path("<uuid:video_uuid>/", views.video_detail, name="video-detail"),
    path("<uuid:video_uuid>/file", views.video_file, name="video-file"),
    path("<uuid:video_uuid>/media/<path:name>", views.video_media, name="video-media"),
    path("<uuid:video_uuid>/reanalyze/", views.video_reanalyze, name="video-reanalyze"),
    path("<uuid:video_uuid>/delete/", views.video_delete, name="video-delete"),
    path("<uuid:video_uuid>/clips/", clip_views.clip_create, name="clip-create"),
]
