"""Per-user read cache for video pages (see core.usercache)."""

from core.usercache import UserCache

_videos = UserCache("videos")

namespace = _videos.namespace
version = _videos.version
bump = _videos.bump
bump_after_save = _videos.bump_after_save
cached = _videos.cached
raw_key = _videos.key
