"""Per-user read cache for video pages (see videochat.usercache)."""

from videochat.usercache import UserCache

_videos = UserCache("videos")

version = _videos.version
bump = _videos.bump
cached = _videos.cached
raw_key = _videos.key
