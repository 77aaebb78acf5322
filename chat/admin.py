from django.contrib import admin

from chat.models import Conversation, Message
from core.admin_counts import LargeTableAdminMixin
from core.admin_input import AdminInputMixin


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["created_at", "role", "kind", "status", "provider", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["created_at"]


@admin.register(Conversation)
class ConversationAdmin(LargeTableAdminMixin, AdminInputMixin, admin.ModelAdmin):
    list_display = ["__str__", "owner", "created_at", "updated_at"]
    list_filter = ["created_at", "updated_at"]
    search_fields = ["title", "owner__email", "uuid"]
    readonly_fields = ["uuid", "created_at", "updated_at"]
    raw_id_fields = ["owner"]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(LargeTableAdminMixin, AdminInputMixin, admin.ModelAdmin):
    list_display = ["__str__", "conversation", "role", "kind", "status", "provider", "model", "created_at"]
    list_filter = ["status", "provider", "role", "kind", "created_at"]
    search_fields = ["text", "conversation__owner__email", "conversation__title"]
    readonly_fields = ["uuid", "created_at", "updated_at", "attempts"]
    raw_id_fields = ["conversation", "reply_to"]
    filter_horizontal = ["videos", "waiting_for"]
