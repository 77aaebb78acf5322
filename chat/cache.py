"""Per-user read cache for chat pages (see core.usercache)."""

from core.usercache import UserCache

# CHAT_READ_CACHE=false reads chat pages straight from the database (an operator switch).
_chat = UserCache("chat", enabled_setting="CHAT_READ_CACHE")

namespace = _chat.namespace
version = _chat.version
bump = _chat.bump
bump_after_save = _chat.bump_after_save
cached = _chat.cached
raw_key = _chat.key
