"""Replies rendered as safe Markdown, with times turned into seek links.

markdown-it parses with raw HTML off, so `<script>` stays text; nh3 then
removes anything that is not on a short allow-list (and every link scheme but
http, https and mailto, so `javascript:` links cannot pass). A time such as
`01:23` or `1:02:03` becomes `<a class="seek" data-seek="83" href="#t=83">`.
An assistant's clip offer, a link to `clip:<video uuid>/<start>-<end>`
(chat.assistant.wording.clip_offer), becomes a link to that video's clip form
with the range filled in; a `clip:` link that names no such range is left text.
"""

from __future__ import annotations

import re
from html import escape
from urllib.parse import urlencode
from uuid import UUID

import nh3
from django.urls import reverse
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from analysis.analyzers.timefmt import parse_clock

TIME = re.compile(r"(?<![\d:])(?:(\d{1,2}):)?([0-5]?\d):([0-5]\d)(?![\d:])")

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "a", "table", "thead", "tbody", "tr", "th", "td", "del",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "class", "data-seek"}, "th": {"align"}, "td": {"align"}}


CLIP_OFFER = re.compile(r"clip:([0-9a-f-]{32,36})/(\d{1,6}(?:\.\d{1,3})?)-(\d{1,6}(?:\.\d{1,3})?)")


def seconds_of(match: re.Match[str]) -> int:
    return int(parse_clock(match.group(0)))


def _link_times(state: StateCore) -> None:
    """Core rule: split text tokens (not code, not inside links) around times."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        in_link = 0
        for token in block.children:
            if token.type == "link_open":
                in_link += 1
                _resolve_clip_offer(token)
            elif token.type == "link_close":
                in_link -= 1
            if token.type != "text" or in_link or not TIME.search(token.content):
                children.append(token)
                continue
            position = 0
            for match in TIME.finditer(token.content):
                if match.start() > position:
                    children.append(_text(token.content[position : match.start()]))
                seconds = seconds_of(match)
                html = Token("html_inline", "", 0)
                html.content = (
                    f'<a class="seek" href="#t={seconds}" data-seek="{seconds}">{escape(match.group(0))}</a>'
                )
                children.append(html)
                position = match.end()
            if position < len(token.content):
                children.append(_text(token.content[position:]))
        block.children = children


def _resolve_clip_offer(link: Token) -> None:
    href = str(link.attrGet("href") or "")
    if not href.startswith("clip:"):
        return
    offer = CLIP_OFFER.fullmatch(href)
    try:
        video = UUID(offer.group(1)) if offer else None
    except ValueError:
        video = None
    if video is None:
        link.attrs.pop("href", None)  # not a range of a video: a link to nowhere
        return
    start, end = offer.group(2), offer.group(3)
    query = urlencode({"video": str(video), "start": start, "end": end})
    link.attrSet("href", f"{reverse('analysis:clip-list')}?{query}")
    link.attrSet("class", "clip-offer")


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
_md.core.ruler.push("link_times", _link_times)


def render_markdown(text: str) -> str:
    html = _md.render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
