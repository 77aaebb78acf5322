from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.conversation_list, name="list"),
    path("new/", views.conversation_new, name="new"),
    path("<uuid:conversation_uuid>/", views.thread, name="thread"),
    path("<uuid:conversation_uuid>/send/", views.message_send, name="send"),
    path("<uuid:conversation_uuid>/older/", views.older_messages, name="older"),
    path("<uuid:conversation_uuid>/title/", views.conversation_rename, name="rename"),
    path("<uuid:conversation_uuid>/delete/", views.conversation_delete, name="delete"),
    path("<uuid:conversation_uuid>/messages/<uuid:message_uuid>/", views.message_detail, name="message"),
    path("<uuid:conversation_uuid>/messages/<uuid:message_uuid>/retry/", views.message_retry, name="retry"),
]
