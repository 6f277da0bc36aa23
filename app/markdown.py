"""Markdown that people type into incidents and maintenance notes, turned into safe HTML or into plain text.

`render` gives HTML that can be inserted into a page as it is: CommonMark plus tables and strikethrough, raw
HTML in the source shown as text (never interpreted), and the result sanitised again with an allow-list, so
links only go to http, https, mailto or relative addresses and always carry `rel="nofollow noopener
noreferrer"`. Images are not shown inline (a status page should not load third-party pixels); they become
links to the image, titled with their alt text.

`plain` gives the same text without markup, on one line, for previews, feeds and e-mail subjects. It is
plain text, not HTML: escape it wherever it is embedded in HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

ALLOWED_TAGS = frozenset({
    "p", "br", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "a", "table", "thead", "tbody", "tr", "th", "td",
})
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer"
ELLIPSIS = "…"


def _image_as_link(self, tokens: Sequence[Token], idx: int, options, env) -> str:
    # Inside a link a second <a> would nest, which HTML forbids; the alt text alone keeps the words.
    token = tokens[idx]
    alt = escapeHtml(self.renderInlineAsText(token.children or [], options, env))
    opened = sum(1 for t in tokens[:idx] if t.type == "link_open") - sum(
        1 for t in tokens[:idx] if t.type == "link_close")
    if opened > 0:
        return alt
    src = escapeHtml(str(token.attrGet("src") or ""))
    return f'<a href="{src}">{alt or src}</a>'


# Both are immutable once built; `html=False` makes raw HTML in the source come out escaped, as text.
_md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_md.add_render_rule("image", _image_as_link)
# The second line of defence: even if the parser ever emitted markup it should not, only this survives.
_cleaner = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    attributes={"a": {"href", "title"}, "ol": {"start"}},  # start: "3." lists keep their numbers
    url_schemes=set(URL_SCHEMES),
    link_rel=LINK_REL,
    strip_comments=True,
)


def render(text: str) -> str:
    """The Markdown `text` as sanitised HTML, safe to insert into a page unescaped; "" for blank text."""
    if not text or not text.strip():
        return ""
    return _cleaner.clean(_md.render(text)).strip()


def plain(text: str, limit: int = 200) -> str:
    """The Markdown `text` as one line of plain text (markup dropped, whitespace collapsed), at most `limit`
    characters: a longer text is cut, at a word where one is near, and ends with "…".

    Link and image addresses are left out; their text stays. The result is not HTML-escaped.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    words = " ".join(_block_texts(_md.parse(text or ""))).split()
    line = " ".join(words)
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    # Cutting at a word reads better, but not at the price of losing most of the room.
    if space > (limit - 1) // 2:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def _block_texts(tokens: Iterable[Token]) -> Iterable[str]:
    for token in tokens:
        if token.type == "inline":
            yield "".join(_inline_texts(token.children or []))
        elif token.type in ("fence", "code_block"):
            yield token.content


def _inline_texts(tokens: Iterable[Token]) -> Iterable[str]:
    for token in tokens:
        if token.type in ("text", "code_inline", "text_special"):
            yield token.content
        elif token.type in ("softbreak", "hardbreak"):
            yield " "
        elif token.type == "image":
            yield from _inline_texts(token.children or [])
