"""The one exception analyzers raise for files they cannot analyse."""


class AnalysisError(Exception):
    """The file cannot be analysed.

    ``reason`` is a sentence meant for the person who uploaded the file
    ("this file has no video stream"); ``detail`` carries the technical cause
    (ffmpeg's own words) for logs, and may be empty.
    """

    def __init__(self, reason: str, *, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


UNREADABLE = "this file could not be read as a video"
NO_VIDEO = "this file has no video stream"
STILL_IMAGE = "this file is a still image, not a video"
EMPTY = "the file is empty"
TRUNCATED = "the file stops before the video ends"
