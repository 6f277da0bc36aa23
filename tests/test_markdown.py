"""Markdown for incident and maintenance text: formatting works, hostile input comes out inert (pure, no I/O)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from app import markdown
from app.markdown import plain, render

# What the page may contain at all; anything else appearing means the allow-list leaked.
ALLOWED = {"p", "br", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
           "h1", "h2", "h3", "h4", "h5", "h6", "hr", "a", "table", "thead", "tbody", "tr", "th", "td"}
FORBIDDEN_ELEMENTS = {"script", "style", "iframe", "svg", "img", "object", "embed", "math", "form", "details",
                      "base", "meta", "link", "frame", "frameset", "video", "audio", "source", "input", "button"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "background", "data", "srcdoc"}
DANGEROUS_SCHEMES = ("javascript:", "data:", "vbscript:")


class _Page(HTMLParser):
    """Collects the elements, attributes and visible text of an HTML fragment, as a browser would read them."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    def handle_data(self, data):
        self.texts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def links(self) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == "a"]


def _browser_url(value: str) -> str:
    # Browsers drop leading spaces and control characters and ignore tabs and newlines anywhere in a URL, so
    # " java\tscript:" still runs; compare the way they do.
    return "".join(ch for ch in value if ord(ch) > 0x20 and ch != "\x7f").lower()


def unsafe_parts(html: str) -> list[str]:
    """Everything in `html` that could run script or load something: empty when the fragment is inert."""
    problems = []
    for tag, attrs in _Page(html).elements:
        if tag in FORBIDDEN_ELEMENTS:
            problems.append(f"<{tag}> element")
        for name, value in attrs.items():
            if name.startswith("on"):
                problems.append(f"{name} handler on <{tag}>")
            if name == "style":
                problems.append(f"style attribute on <{tag}>")
            if name in URL_ATTRIBUTES and _browser_url(value).startswith(DANGEROUS_SCHEMES):
                problems.append(f"{name}={value!r} on <{tag}>")
    return problems


def test_the_checker_itself_spots_each_kind_of_danger():
    hostile = ('<script></script><img src=x onerror=alert(1)><a href=" JaVa&#x09;Script:alert(1)">x</a>'
               '<p style="color:red">y</p><a href="data:text/html,x">z</a>')

    assert len(unsafe_parts(hostile)) == 6
    assert unsafe_parts('<p><a href="https://example.com">ok</a></p>') == []


# --- ordinary formatting ------------------------------------------------------------------------------------

def test_bold_emphasis_and_strikethrough_become_their_tags():
    html = render("**bold** _italic_ ~~gone~~ `code`")

    assert html == "<p><strong>bold</strong> <em>italic</em> <s>gone</s> <code>code</code></p>"


def test_lists_keep_their_items_and_their_numbering():
    assert render("- one\n- two") == "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"
    assert render("3. three\n4. four") == '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'


def test_a_link_keeps_its_address_and_title_and_is_marked_nofollow():
    page = _Page(render('See [the status](https://example.com/status?a=1&b=2 "Live status").'))

    assert page.links() == [{"href": "https://example.com/status?a=1&b=2", "title": "Live status",
                             "rel": "nofollow noopener noreferrer"}]
    assert page.text == "See the status."


@pytest.mark.parametrize("source, href", [
    ("<https://example.com>", "https://example.com"),
    ("[mail us](mailto:ops@example.com)", "mailto:ops@example.com"),
    ("[history](/status/acme/history)", "/status/acme/history"),
    ("[below](#details)", "#details"),
    ("[http](http://example.com)", "http://example.com"),
])
def test_web_mail_and_relative_links_keep_their_address(source, href):
    (link,) = _Page(render(source)).links()

    assert link["href"] == href
    assert link["rel"] == "nofollow noopener noreferrer"


def test_a_code_block_shows_its_text_escaped_rather_than_as_markup():
    html = render("```\n<b>not bold</b> & <script>x()</script>\n```")

    assert html == "<pre><code>&lt;b&gt;not bold&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt;\n</code></pre>"
    assert _Page(html).text == "<b>not bold</b> & <script>x()</script>\n"


def test_tables_headings_quotes_and_rules_render():
    html = render("## Affected\n\n> Quoted\n\n---\n\n| Region | State |\n|:--|--:|\n| EU | down |")
    tags = [tag for tag, _ in _Page(html).elements]

    assert tags == ["h2", "blockquote", "p", "hr", "table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td"]
    assert unsafe_parts(html) == []  # the alignment style markdown-it puts on cells is dropped


def test_a_hard_line_break_becomes_br():
    assert render("first  \nsecond") == "<p>first<br>\nsecond</p>"


@pytest.mark.parametrize("text", ["", " ", "\n\t \n"])
def test_blank_text_renders_to_nothing(text):
    assert render(text) == ""


def test_an_image_becomes_a_link_to_it_named_by_its_alt_text():
    page = _Page(render("![Latency graph](https://example.com/graph.png)"))

    assert [tag for tag, _ in page.elements] == ["p", "a"]
    assert page.links()[0]["href"] == "https://example.com/graph.png"
    assert page.text == "Latency graph"


def test_an_image_inside_a_link_leaves_its_alt_text_in_the_one_link():
    page = _Page(render("[![Dashboard](https://example.com/d.png)](https://example.com/dash)"))

    assert page.links() == [{"href": "https://example.com/dash", "rel": "nofollow noopener noreferrer"}]
    assert page.text == "Dashboard"


# --- hostile input --------------------------------------------------------------------------------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x]( javascript:alert(1))",
    "[x](  javascript:alert(1)  )",
    "[x](<javascript:alert(1)>)",
    "[x](java&#115;cript:alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](java&#x09;script:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    '<iframe src="https://evil.example/"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>">',
    "<style>body{display:none}</style>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](javascript:alert(1))",
    "<details open ontoggle=alert(1)>",
    "<javascript:alert(1)>",
    "<JavaScript:alert(1)>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    "<!-- <script>alert(1)</script> -->",
    "`<script>alert(1)</script>`",
    "[<img src=x onerror=alert(1)>](https://example.com)",
    "| a | b |\n|---|---|\n| <script>alert(1)</script> | [x](javascript:alert(1)) |",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    '[x](https://example.com "\\" onmouseover=\\"alert(1)")',
    '[x](https://example.com "<script>alert(1)</script>")',
    "[x](https://example.com 'x\" onclick=alert(1) y=\"')",
    "**<svg/onload=alert(1)>**",
    "> <iframe src=javascript:alert(1)>",
    "- <img src=x onerror=alert(1)>\n- [x](javascript:alert(1))",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_hostile_payload_comes_out_inert(payload):
    html = render(payload)

    assert unsafe_parts(html) == []
    assert {tag for tag, _ in _Page(html).elements} <= ALLOWED


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_sanitiser_alone_makes_raw_html_inert(monkeypatch, payload):
    """Even if the Markdown step passed raw HTML through, the allow-list after it would stop the attack."""
    monkeypatch.setattr(markdown, "_md", MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]))

    html = render(payload)

    assert unsafe_parts(html) == []
    assert {tag for tag, _ in _Page(html).elements} <= ALLOWED


@pytest.mark.parametrize("payload", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<details open ontoggle=alert(1)>",
    "<javascript:alert(1)>",
])
def test_html_someone_typed_is_shown_literally_rather_than_dropped(payload):
    assert _Page(render(payload)).text == payload


def test_a_script_tag_in_a_table_cell_is_shown_as_text():
    page = _Page(render("| note |\n|---|\n| <script>alert(1)</script> |"))

    assert "<script>alert(1)</script>" in page.text
    assert "script" not in {tag for tag, _ in page.elements}


@pytest.mark.parametrize("source", [
    "[x](javascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "[x](vbscript:msgbox(1))",
    "<javascript:alert(1)>",
])
def test_a_link_to_a_script_address_gives_no_usable_link(source):
    assert all("href" not in link for link in _Page(render(source)).links())


def test_a_quote_in_a_link_title_cannot_break_out_of_the_attribute():
    (link,) = _Page(render('[x](https://example.com "a\\" onclick=\\"alert(1)")')).links()

    assert link == {"href": "https://example.com", "title": 'a" onclick="alert(1)',
                    "rel": "nofollow noopener noreferrer"}


# --- plain text -------------------------------------------------------------------------------------------------

def test_plain_text_drops_markup_and_addresses_but_keeps_the_words():
    text = "# Database failover\n\nWe **moved** traffic to [the standby](https://example.com).\n\n- EU\n- `US`"

    assert plain(text) == "Database failover We moved traffic to the standby. EU US"


def test_plain_text_shows_typed_html_literally():
    assert plain("Do not type <script> here & there") == "Do not type <script> here & there"


def test_plain_text_collapses_all_whitespace_onto_one_line():
    assert plain("a\n\nb  \nc\td\r\n\n```\nx\n\ny\n```") == "a b c d x y"


def test_plain_text_keeps_the_alt_text_of_an_image():
    assert plain("![Latency graph](https://example.com/g.png)") == "Latency graph"


@pytest.mark.parametrize("text", ["", "   ", "\n\n"])
def test_blank_text_has_no_plain_text(text):
    assert plain(text) == ""


def test_text_within_the_limit_is_not_cut():
    assert plain("exactly ten", limit=11) == "exactly ten"


def test_long_text_is_cut_at_a_word_and_ends_with_an_ellipsis():
    result = plain("The primary database is failing over to the standby", limit=30)

    assert result == "The primary database is…"
    assert len(result) <= 30


def test_a_long_word_is_cut_mid_word_rather_than_losing_the_whole_preview():
    result = plain("Supercalifragilisticexpialidocious", limit=10)

    assert result == "Supercali…"
    assert len(result) == 10


@pytest.mark.parametrize("limit", [1, 2, 5, 50, 199, 200])
def test_plain_text_never_exceeds_its_limit(limit):
    assert len(plain("word " * 100, limit=limit)) <= limit


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError):
        plain("text", limit=0)
