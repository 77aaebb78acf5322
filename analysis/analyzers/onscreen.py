"""Offline reading of the words on screen: a video file in, timed lines of text out.

Pure, like the rest of :mod:`analysis.analyzers`: no Django, no Redis, no
models. The worker's analysis job can run it as one more stage::

    from analysis.analyzers.onscreen import OnscreenTextUnavailable, read_onscreen_text

    try:
        onscreen = read_onscreen_text(path, duration=metadata["duration"], cuts=cuts, progress=report)
    except OnscreenTextUnavailable as exc:
        ...  # keep the rest of the analysis; record exc.reason

The models are PP-OCRv4's text detector and recogniser, shipped inside the
``rapidocr-onnxruntime`` wheel and run by onnxruntime on the CPU; nothing is
downloaded at run time. They are loaded once per process, on first use.

What it reads well: text made to be read on a screen, upright and flat —
slides, burnt-in captions and subtitles, title cards, lower thirds, screen
recordings, text held over moving footage, credits — in English and other
Latin-script languages (unaccented letters; accented ones such as é or ü are
often dropped or misread). The recogniser's dictionary is PP-OCRv4's default,
Chinese and English (6,623 symbols: simplified Chinese characters, the ASCII
letters, digits and punctuation, a few Greek and Cyrillic letters); other
scripts (Arabic, Devanagari, Japanese kana, Korean, ...) are not read. What it
cannot read: scene text in perspective or far away (signs, shop fronts,
labels in a street scene), handwriting, rotated or curved text, very small
text (lines under about 10 pixels high on a 720-line picture), and text that
never holds still (a fast crawl).

How it keeps the cost down: the video is decoded once by the bundled ffmpeg,
two grey pictures a second at most 1280 wide, upright, skipping the frames no
other frame depends on. Each picture is compared with what was last read on a
grid of blocks; only blocks whose pixels changed and then held still for one
step (half a second: text is shown to be read) are read again, as full-width
strips of the changed rows, so a caption changing under a still slide costs a
small read and the slide is not read again. Blocks that keep moving (an inset of the speaker, a pan) are read
at most every :data:`MOTION_REREAD` seconds. A line whose pixels are unchanged
is carried forward without reading it; one whose pixels changed is checked by
recognition alone on its old box. Reads of the same words (normalised edit
distance at most :data:`SAME_TEXT`) at about the same place on consecutive
reads are one span, from when it was first seen to when it was last seen plus
one step.
"""

from __future__ import annotations

import math
import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from analysis.analyzers.decode import _UPRIGHT, _stored, ffmpeg_exe
from analysis.analyzers.errors import AnalysisError
from analysis.analyzers.loaded import PerProcess, cores
from analysis.analyzers.probe import probe

if TYPE_CHECKING:
    from rapidocr_onnxruntime import RapidOCR

__all__ = [
    "MODEL_NAME",
    "NO_TEXT",
    "OnscreenTextUnavailable",
    "edit_distance",
    "load_model",
    "read_onscreen_text",
    "text_distance",
]

MODEL_NAME = "PP-OCRv4 (rapidocr-onnxruntime 1.4.4)"
NO_TEXT = "No text was seen on screen"
MODEL_MISSING = "on-screen text reading is not available on this server"
UNREADABLE_PICTURE = "the pictures of this file could not be read"

MODEL_DIR: Path | None = None
"""Where the ONNX models are; None means inside the installed rapidocr_onnxruntime package."""
_MODEL_FILES = {
    "det": "ch_PP-OCRv4_det_infer.onnx",
    "rec": "ch_PP-OCRv4_rec_infer.onnx",
    "cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx",
}

SAMPLE_FPS = 2
STEP = 1.0 / SAMPLE_FPS
MAX_WIDTH = 1280
"""Pictures are read at most this wide: small caption text stays legible, and detection cost grows with area."""
SMALL_SCALE = 4
"""Change detection runs on the picture shrunk this many times."""
BLOCK = 8
"""Block size (pixels of the shrunk picture) of the change grid: 32 px of a 1280-wide frame."""
CHANGED = 18
"""A shrunk pixel changed since the last read when it differs by more than this (of 255)."""
STILL = 8
"""... and it holds still when it differs from the previous sample by at most this."""
BLOCK_SHARE = 0.03
"""A block changed (or changed and held still) when this share of its pixels did."""
MOTION_REREAD = 4.0
"""Blocks that changed but never hold still (motion) are read at most this often, in seconds."""
DET_SCALE = 0.6
"""Lines are detected on the picture shrunk this much (a third of the cost), then read at full size."""
EDGE_CONTRAST = 40
"""A shrunk pixel is on an edge when its 3x3 neighbourhood spans more than this (of 255)."""
MOTION_MEMORY = 4
"""A block that moved on two of the last this-many samples is in motion."""
MOTION_FRESH_SHARE = 0.4
"""... and there this share of it must have changed, held still and be edges: a line of text
held over a pan fills its blocks to 0.6-0.8; a swaying inset of a person mostly stays under 0.3."""
REGION_PAD = 16
"""Pixels added around each region read."""
EDGE = 12
"""A line found this close to a region's inner side was cut by it."""
FULL_READ_AREA = 0.6
"""When the regions to read cover more than this share of the picture, read it whole."""

MIN_SCORE = 0.8
"""Recognition confidence below this is noise (textures read as letters)."""
MIN_HEIGHT = 0.014
"""Lines lower than this share of the picture height are too small to trust (about 10 px at 720)."""
MIN_ALNUM = 2
SAME_TEXT = 0.2
"""Two reads are the same words when their normalised edit distance is at most this."""
MERGE_GAP = 1.0
"""Spans of the same words at the same place with a gap at most this long (s) are one."""

ProgressCallback = Callable[[float], None]
Box = tuple[int, int, int, int]


class OnscreenTextUnavailable(Exception):
    """On-screen text cannot be read: the model cannot be loaded, or the pictures cannot be decoded.

    ``reason`` is a sentence for the person who uploaded the video; ``detail``
    carries the technical cause for logs. The rest of an analysis stays valid.
    """

    def __init__(self, reason: str, *, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


# --- the model -----------------------------------------------------------------

_engine = PerProcess(lambda: _load_model())


def load_model() -> RapidOCR:
    """The OCR engine, loaded on first use and then shared by every call in this process.

    A process forked after loading (RQ's work horse) loads its own: an
    onnxruntime session's thread pool does not survive ``fork()``.
    """
    return _engine.get()


def _load_model() -> RapidOCR:
    try:
        import rapidocr_onnxruntime
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise OnscreenTextUnavailable(MODEL_MISSING, detail=str(exc)) from exc
    directory = MODEL_DIR or Path(rapidocr_onnxruntime.__file__).parent / "models"
    threads = cores()
    try:
        return RapidOCR(
            # Screen text is upright: the angle classifier would only cost time.
            use_cls=False,
            det_model_path=str(directory / _MODEL_FILES["det"]),
            rec_model_path=str(directory / _MODEL_FILES["rec"]),
            cls_model_path=str(directory / _MODEL_FILES["cls"]),
            # Detect at the picture's own size (no upscaling of small crops).
            det_limit_type="max",
            det_limit_side_len=MAX_WIDTH,
            # One session at a time runs, on every core; no second pool.
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
            text_score=MIN_SCORE,
        )
    except (OSError, RuntimeError, ValueError) as exc:
        raise OnscreenTextUnavailable(MODEL_MISSING, detail=f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # onnxruntime's own errors (InvalidProtobuf, ...) share no base class
        raise OnscreenTextUnavailable(MODEL_MISSING, detail=f"{type(exc).__name__}: {exc}") from exc


# --- reading -----------------------------------------------------------------


def read_onscreen_text(
    path: str | Path,
    *,
    duration: float | None = None,
    cuts: Sequence[float] = (),
    progress: ProgressCallback | None = None,
    every_frame: bool = False,
) -> dict[str, Any]:
    """Read the text shown in the video at ``path``.

    Returns ``spans`` (each ``start`` and ``end`` in seconds, ``text`` one line
    as read, ``confidence`` 0..1, ``box`` [x0, y0, x1, y1] as fractions of the
    upright picture, ``height`` the line's height as a fraction of the picture
    height), sorted by (start, top, left); ``model``; ``frames_read`` (pictures
    or parts of pictures handed to the detector); and, when nothing was read,
    ``note``: :data:`NO_TEXT`.

    ``cuts`` are scene-cut times (s): after each, whatever changed is read even
    if it is still moving. ``progress(fraction)`` gets rising fractions of the
    video read. ``every_frame`` reads every sampled picture whole (the naive
    way, for the benchmark's baseline).

    Raises :class:`OnscreenTextUnavailable` if the model cannot be loaded or
    the pictures cannot be decoded, :class:`FileNotFoundError` for a missing file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    report = _Progress(progress)
    report.start()
    engine = load_model()
    try:
        probed = probe(path)
    except AnalysisError as exc:
        raise OnscreenTextUnavailable(UNREADABLE_PICTURE, detail=exc.detail or exc.reason) from exc
    total = duration or probed.metadata.get("duration") or 0.0
    reader = _Reader(engine, _work_size(probed.display_size), cuts=sorted(cuts), every_frame=every_frame)
    for time, picture in _pictures(path, probed.metadata.get("rotation") or 0, reader.size):
        reader.add(time, picture)
        if total:
            report.send(min(1.0, time / total))
    spans = reader.finish(total or None)
    report.send(1.0)
    result: dict[str, Any] = {"spans": spans, "model": MODEL_NAME, "frames_read": reader.frames_read}
    if not spans:
        result["note"] = NO_TEXT
    return result


def _work_size(display: tuple[int, int]) -> tuple[int, int]:
    width, height = display
    scale = min(1.0, MAX_WIDTH / max(1, width))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _pictures(path: Path, rotation: int, size: tuple[int, int]) -> Iterator[tuple[float, np.ndarray]]:
    """Grey upright pictures of ``size``, :data:`SAMPLE_FPS` a second, with their times."""
    width, height = size
    sw, sh = _stored(size, rotation)
    graph = (
        f"fps={SAMPLE_FPS}:start_time=0,scale={sw}:{sh}:flags=area{_UPRIGHT.get(rotation, '')},format=gray"
    )
    command = [
        *(ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-noautorotate"),
        # Frames nothing refers to and the deblocking filter are not needed at two pictures a second.
        *("-skip_frame:v", "noref", "-skip_loop_filter:v", "all", "-flags2:v", "fast"),
        *("-i", os.fspath(path.absolute()), "-map", "0:v:0", "-an", "-vf", graph),
        *("-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"),
    ]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stderr is not None
    frame_bytes = width * height
    index = 0
    try:
        while len(data := process.stdout.read(frame_bytes)) == frame_bytes:
            yield index * STEP, np.frombuffer(data, np.uint8).reshape(height, width)
            index += 1
    finally:
        process.stdout.close()
        if process.poll() is None:
            process.kill()
        stderr = process.stderr.read().decode(errors="replace")
        process.stderr.close()
        code = process.wait()
    if code != 0 and index == 0:
        raise OnscreenTextUnavailable(UNREADABLE_PICTURE, detail=stderr.strip()[-2000:])


@dataclass
class _Line:
    text: str
    score: float
    box: tuple[int, int, int, int]  # pixels of the work picture
    start: float
    last_seen: float
    texts: dict[str, float] = field(default_factory=dict)  # every reading, its best score
    waited: bool = False  # its pixels were changing at the last sample, so it was not checked

    def seen(self, text: str, score: float, box: tuple[int, int, int, int], time: float) -> None:
        self.texts[text] = max(score, self.texts.get(text, 0.0))
        self.box, self.last_seen, self.waited = box, time, False
        self.text, self.score = max(self.texts.items(), key=lambda item: item[1])


class _Reader:
    """Decides what to read in each sampled picture, reads it, and keeps the lines on screen."""

    def __init__(
        self, engine: RapidOCR, size: tuple[int, int], *, cuts: Sequence[float], every_frame: bool
    ) -> None:
        self.engine = engine
        self.size = size
        self.cuts = list(cuts)
        self.every_frame = every_frame
        self.frames_read = 0
        self.active: list[_Line] = []
        self.done: list[_Line] = []
        width, height = size
        self.small_size = (max(1, width // SMALL_SCALE), max(1, height // SMALL_SCALE))
        self.grid = (math.ceil(self.small_size[1] / BLOCK), math.ceil(self.small_size[0] / BLOCK))
        self.ref: np.ndarray | None = None  # the shrunk picture as it was when each part was last read
        self.prev: np.ndarray | None = None
        self.last_read = np.zeros(self.grid)
        self.moves = np.zeros(
            (MOTION_MEMORY, *self.grid), bool
        )  # whether each block moved, last samples first
        self.time = 0.0

    # The shrunk picture's blocks, as fractions of their pixels for which ``mask`` holds.
    def _blocks(self, mask: np.ndarray) -> np.ndarray:
        gh, gw = self.grid
        padded = np.zeros((gh * BLOCK, gw * BLOCK), np.float32)
        padded[: mask.shape[0], : mask.shape[1]] = mask
        return padded.reshape(gh, BLOCK, gw, BLOCK).mean(axis=(1, 3))

    def add(self, time: float, picture: np.ndarray) -> None:
        self.time = time
        small = cv2.resize(picture, self.small_size, interpolation=cv2.INTER_AREA).astype(np.int16)
        full = (0, 0, *self.size)
        if self.ref is None or self.prev is None or self.every_frame:
            self.ref = small.copy()
            self._read(picture, small, [full], first=self.prev is None)
            self.prev = small
            self.last_read[:] = time
            return
        changed = np.abs(small - self.ref) > CHANGED
        still = np.abs(small - self.prev) <= STILL
        changed_blocks = self._blocks(changed) >= BLOCK_SHARE
        # Text is drawn with edges: a flat area that changed (a colour, the smooth part
        # of a moving picture) holds nothing to read.
        edges = (
            cv2.morphologyEx(small.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
            > EDGE_CONTRAST
        )
        fresh_share = self._blocks(changed & still & edges)
        # Where the picture kept moving (an inset of the speaker, a pan), pixels that
        # happen to match from one sample to the next are not text that holds still:
        # there it takes a text's worth of them.
        # One change (a new caption) is not motion; moving on two of the last few samples is.
        self.moves = np.roll(self.moves, 1, axis=0)
        self.moves[0] = self._blocks(~still) >= BLOCK_SHARE
        share = np.where(self.moves.sum(axis=0) >= 2, MOTION_FRESH_SHARE, BLOCK_SHARE)
        fresh_blocks = fresh_share >= share
        after_cut = any(time - STEP < cut + STEP <= time + 1e-6 for cut in self.cuts)
        stale = time - self.last_read >= MOTION_REREAD - 1e-6
        wanted = fresh_blocks | (changed_blocks & (stale | after_cut))
        regions = self._regions(wanted)
        if (
            sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions)
            > FULL_READ_AREA * self.size[0] * self.size[1]
        ):
            regions = [full]
        if regions:
            self._read(picture, small, regions, first=False)
            for x0, y0, x1, y1 in regions:
                sx0, sy0, sx1, sy1 = (v // SMALL_SCALE for v in (x0, y0, x1, y1))
                self.ref[sy0:sy1, sx0:sx1] = small[sy0:sy1, sx0:sx1]
                self.last_read[sy0 // BLOCK : -(-sy1 // BLOCK), sx0 // BLOCK : -(-sx1 // BLOCK)] = time
        self._carry(picture, small, regions)
        self.prev = small

    def _regions(self, wanted: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Strips (work-picture pixels) across the rows of the wanted blocks, grown over the lines they touch."""
        if not wanted.any():
            return []
        # Lines run across: join blocks two to each side, and one above and below.
        grown = cv2.dilate(wanted.astype(np.uint8), np.ones((3, 5), np.uint8))
        count, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
        unit = BLOCK * SMALL_SCALE
        width, height = self.size
        boxes = []
        for _x, y, _w, h, _ in stats[1:count]:
            # The whole width of those rows: a line is never cut at a side (detection is
            # cheap; unchanged lines found there are not recognised again).
            box = (0, y * unit, width, min(height, (y + h) * unit))
            boxes.append(_pad(box, REGION_PAD, self.size))
        # A line cut by a region's edge would be read in part: take its whole box in
        # (not one whose letters were changing: what it showed is gone).
        for line in (line for line in self.active if not line.waited):
            for i, box in enumerate(boxes):
                if _overlap(line.box, box) > 0:
                    boxes[i] = _pad(_union(box, line.box), 8, self.size)
        return _merged(boxes)

    def _read(self, picture: np.ndarray, small: np.ndarray, regions: list[Box], *, first: bool) -> None:
        found: list[tuple[str, float, Box]] = []
        width, height = self.size
        strips: list[Box] = []
        for x0, y0, x1, y1 in regions:
            self.frames_read += 1
            for text, score, (bx0, by0, bx1, by1) in _joined(self._ocr(picture, small, (x0, y0, x1, y1))):
                box = (x0 + bx0, y0 + by0, x0 + bx1, y0 + by1)
                if (y0 > 0 and by0 <= EDGE) or (y1 < height and by1 >= y1 - y0 - EDGE):
                    # Cut by the strip's top or bottom: read it again in a taller strip.
                    tall = by1 - by0
                    strips.append((0, max(0, box[1] - 2 * tall), width, min(height, box[3] + 2 * tall)))
                elif self._plausible(text, score, box):
                    found.append((text, score, box))
        strips = _merged(strips)
        for x0, y0, x1, y1 in strips:
            self.frames_read += 1
            for text, score, (bx0, by0, bx1, by1) in _joined(self._ocr(picture, small, (x0, y0, x1, y1))):
                box = (x0 + bx0, y0 + by0, x0 + bx1, y0 + by1)
                if self._plausible(text, score, box):
                    found.append((text, score, box))
        regions = regions + strips
        in_regions = [line for line in self.active if any(_inside(line.box, r) for r in regions)]
        for text, score, box in found:
            line = _match(in_regions, text, box) or _match(self.active, text, box)
            if line is None:
                # Shown since the previous sample if its pixels held still since then.
                start = self.time if first or not self._held(box, small) else max(0.0, self.time - STEP)
                line = _Line(text, score, box, start=start, last_seen=self.time)
                self.active.append(line)
            else:
                in_regions = [other for other in in_regions if other is not line]
            line.seen(text, score, box, self.time)
        for line in in_regions:  # read again and not found: gone
            self._close(line)

    def _held(self, box: Box, small: np.ndarray) -> bool:
        if self.prev is None:
            return False
        # Judged on its edges (the letters), so a line held over moving footage counts.
        x0, y0, x1, y1 = (v // SMALL_SCALE for v in box)
        patch = small[y0 : y1 + 1, x0 : x1 + 1]
        if not patch.size:
            return False
        edges = (
            cv2.morphologyEx(patch.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
            > EDGE_CONTRAST
        )
        still = np.abs(patch - self.prev[y0 : y1 + 1, x0 : x1 + 1]) <= STILL
        return bool(edges.any()) and float(still[edges].mean()) >= 0.5

    def _ocr(self, picture: np.ndarray, small: np.ndarray, region: Box) -> list[tuple[str, float, Box]]:
        """Detect lines in ``region`` shrunk by :data:`DET_SCALE`; recognise at full size those
        that are not a known line whose pixels did not change (its text is carried forward)."""
        x0, y0, x1, y1 = region
        crop = np.ascontiguousarray(picture[y0:y1, x0:x1])
        height, width = crop.shape
        det_size = (max(32, round(width * DET_SCALE)), max(32, round(height * DET_SCALE)))
        shrunk = cv2.resize(crop, det_size, interpolation=cv2.INTER_AREA)
        boxes, _ = self.engine.text_det(cv2.cvtColor(shrunk, cv2.COLOR_GRAY2BGR))
        if boxes is None or len(boxes) == 0:
            return []
        scale = np.array([width / det_size[0], height / det_size[1]], np.float32)
        points = [
            np.ascontiguousarray(box * scale, dtype=np.float32) for box in self.engine.sorted_boxes(boxes)
        ]
        found: list[tuple[str, float, Box] | None] = []
        unread = []
        for i, quad in enumerate(points):
            xs, ys = quad[:, 0], quad[:, 1]
            box = (int(xs.min()), int(ys.min()), math.ceil(xs.max()), math.ceil(ys.max()))
            placed = (x0 + box[0], y0 + box[1], x0 + box[2], y0 + box[3])
            known = next(
                (
                    line
                    for line in self.active
                    if not self.every_frame
                    and _overlap(line.box, placed) >= 0.7 * _area(_union(line.box, placed))
                    and self._unchanged(line.box, small)
                ),
                None,
            )
            found.append((known.text, known.score, box) if known else None)
            if known is None:
                unread.append(i)
        if unread:
            colour = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
            texts, _ = self.engine.text_rec(
                self.engine.get_crop_img_list(colour, [points[i] for i in unread])
            )
            for i, (text, score, *_) in zip(unread, texts, strict=True):
                xs, ys = points[i][:, 0], points[i][:, 1]
                box = (int(xs.min()), int(ys.min()), math.ceil(xs.max()), math.ceil(ys.max()))
                found[i] = (" ".join(str(text).split()), float(score), box)
        return [item for item in found if item is not None]

    def _unchanged(self, box: Box, small: np.ndarray) -> bool:
        """The box's pixels are as they were when last read."""
        assert self.ref is not None
        x0, y0, x1, y1 = (v // SMALL_SCALE for v in box)
        patch = np.abs(small[y0 : y1 + 1, x0 : x1 + 1] - self.ref[y0 : y1 + 1, x0 : x1 + 1])
        return bool(patch.size) and float((patch > CHANGED).mean()) < BLOCK_SHARE

    def _plausible(self, text: str, score: float, box: tuple[int, int, int, int]) -> bool:
        if score < MIN_SCORE or sum(c.isalnum() for c in text) < MIN_ALNUM:
            return False
        return (box[3] - box[1]) >= MIN_HEIGHT * self.size[1]

    def _carry(
        self, picture: np.ndarray, small: np.ndarray, regions: list[tuple[int, int, int, int]]
    ) -> None:
        """Lines not read this time: still there if their pixels did not change; else check by recognition alone."""
        assert self.ref is not None
        for line in list(self.active):
            if line.last_seen == self.time:
                continue
            if self._unchanged(line.box, small):
                line.last_seen, line.waited = self.time, False
                continue
            if not line.waited and not self._held(line.box, small):
                # Its letters are changing (a caption being replaced), not just what is
                # behind them: once they hold still the strip is read anyway, and that
                # read decides. Waited for once only.
                line.waited = True
                continue
            bx0, by0, bx1, by1 = _pad(line.box, 4, self.size)
            crop = cv2.cvtColor(np.ascontiguousarray(picture[by0:by1, bx0:bx1]), cv2.COLOR_GRAY2BGR)
            result, _ = self.engine(crop, use_det=False, use_cls=False)
            text, score = (" ".join(result[0][0].split()), float(result[0][1])) if result else ("", 0.0)
            if score >= MIN_SCORE and _same_text(text, line.text):
                line.last_seen, line.waited = self.time, False
            else:
                self._close(line)

    def _close(self, line: _Line) -> None:
        self.active.remove(line)
        self.done.append(line)

    def finish(self, total: float | None) -> list[dict[str, Any]]:
        lines = self.done + self.active
        self.active, self.done = [], []
        lines.sort(key=lambda line: (line.start, line.box[1], line.box[0]))
        merged: list[_Line] = []
        for line in lines:
            earlier = next(
                (
                    m
                    for m in reversed(merged)
                    if line.start - m.last_seen <= MERGE_GAP + STEP
                    and _same_text(m.text, line.text)
                    and _near(m.box, line.box)
                ),
                None,
            )
            if earlier is None:
                merged.append(line)
            else:
                for text, score in line.texts.items():
                    earlier.texts[text] = max(score, earlier.texts.get(text, 0.0))
                earlier.seen(line.text, line.score, earlier.box, max(earlier.last_seen, line.last_seen))
        width, height = self.size
        spans = []
        for line in merged:
            end = line.last_seen + STEP
            if total:
                end = min(end, total)
            _, y0, _, y1 = line.box
            spans.append(
                {
                    "start": round(line.start, 2),
                    "end": round(max(end, line.start), 2),
                    "text": line.text,
                    "confidence": round(line.score, 3),
                    "box": [
                        round(float(v) / size, 4)
                        for v, size in zip(line.box, (width, height, width, height), strict=True)
                    ],
                    "height": round(float(y1 - y0) / height, 4),
                }
            )
        spans.sort(key=lambda span: (span["start"], span["box"][1], span["box"][0]))
        return spans


# --- boxes and words -----------------------------------------------------------------


def _joined(found: list[tuple[str, float, Box]]) -> list[tuple[str, float, Box]]:
    """Words the detector found apart on one line (a large title's wide gaps) joined into the line."""
    lines = sorted(found, key=lambda item: (item[2][1], item[2][0]))
    joined: list[tuple[str, float, Box]] = []
    for text, score, box in lines:
        for i, (other_text, other_score, other) in enumerate(joined):
            height = max(box[3] - box[1], other[3] - other[1])
            level = min(box[3], other[3]) - max(box[1], other[1]) >= 0.7 * min(
                box[3] - box[1], other[3] - other[1]
            )
            gap = box[0] - other[2]
            if level and -0.2 * height <= gap <= 1.2 * height:
                joined[i] = (f"{other_text} {text}", min(score, other_score), _union(other, box))
                break
        else:
            joined.append((text, score, box))
    return joined


def _overlap(a: Box, b: Box) -> int:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def _inside(line: Box, region: Box) -> bool:
    """Most of ``line`` lies in ``region``."""
    area = max(1, (line[2] - line[0]) * (line[3] - line[1]))
    return _overlap(line, region) >= 0.6 * area


def _area(box: Box) -> int:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _pad(box: Box, by: int, size: tuple[int, int]) -> Box:
    return max(0, box[0] - by), max(0, box[1] - by), min(size[0], box[2] + by), min(size[1], box[3] + by)


def _merged(boxes: list[Box]) -> list[Box]:
    boxes = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if _overlap(boxes[i], boxes[j]) > 0:
                    boxes[i] = _union(boxes[i], boxes.pop(j))
                    merged = True
                    break
            if merged:
                break
    return boxes


def _near(a: Box, b: Box) -> bool:
    """About the same place: centres closer than twice the taller line's height."""
    height = max(a[3] - a[1], b[3] - b[1])
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    return math.hypot(dx, dy) <= 2 * height


def _match(lines: Sequence[_Line], text: str, box: Box) -> _Line | None:
    distances = [
        (text_distance(line.text, text), i)
        for i, line in enumerate(lines)
        if _near(line.box, box) and _same_text(line.text, text)
    ]
    return lines[min(distances)[1]] if distances else None


def _same_text(a: str, b: str) -> bool:
    """The same words: :func:`text_distance` at most :data:`SAME_TEXT` (lengths compared first,
    as the distance is at least their difference)."""
    la, lb = len(a) - a.count(" "), len(b) - b.count(" ")
    if abs(la - lb) > SAME_TEXT * max(la, lb) + 1:
        return False
    return text_distance(a, b) <= SAME_TEXT


def text_distance(a: str, b: str) -> float:
    """Edit distance between ``a`` and ``b`` (case and spacing ignored) over the longer one's length."""
    a, b = "".join(a.lower().split()), "".join(b.lower().split())
    if not a or not b:
        return 0.0 if a == b else 1.0
    return edit_distance(a, b) / max(len(a), len(b))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions, each costing one."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


class _Progress:
    """Reports rising fractions of the video read, never more than 1.0."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self._sent = -1.0

    def start(self) -> None:
        self.send(0.0)

    def send(self, fraction: float) -> None:
        if self.callback is not None and fraction > self._sent:
            self._sent = fraction
            self.callback(fraction)
