"""Pure SVG badges in the shields.io look: a grey label on the left, a coloured message on the right.

Text widths are estimated from a per-character table of Verdana at 11px (the font shields.io measures with), so
that a badge is as wide as its words without a font on the server. ``for-the-badge`` uses bold upper-case text
at 10px with letter spacing. Every text is XML-escaped; colours are a small set of names or ``#rrggbb``.
"""

from __future__ import annotations

import re
import unicodedata
from xml.sax.saxutils import escape, quoteattr

from app.enums import ComponentStatus
from app.uptime import format_percent

STYLES = ("flat", "flat-square", "for-the-badge")

COLORS = {
    "green": "#4c1",
    "brightgreen": "#4c1",
    "yellowgreen": "#a4a61d",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "blue": "#007ec6",
    "grey": "#9f9f9f",
    "gray": "#9f9f9f",
    "lightgrey": "#9f9f9f",
    "darkgrey": "#555",
}
LABEL_COLOR = "#555"
_HEX = re.compile(r"#[0-9a-fA-F]{6}")
# Beyond this a badge is no badge any more; the routes refuse longer labels before they get here.
MAX_TEXT = 200

# Advance widths of Verdana at 11px (units per em 2048 × 11 / 2048), rounded to 0.01px.
_WIDTHS: dict[str, float] = {
    " ": 3.87, "!": 4.33, '"': 5.04, "#": 9.00, "$": 7.00, "%": 11.84, "&": 7.99, "'": 2.95, "(": 5.00, ")": 5.00,
    "*": 7.00, "+": 9.00, ",": 4.00, "-": 5.00, ".": 4.00, "/": 5.00, ":": 5.00, ";": 5.00, "<": 9.00, "=": 9.00,
    ">": 9.00, "?": 6.00, "@": 11.00, "[": 5.00, "\\": 5.00, "]": 5.00, "^": 9.00, "_": 7.00, "`": 7.00,
    "{": 6.98, "|": 5.00, "}": 6.98, "~": 9.00,
    **dict.fromkeys("0123456789", 7.00),
    "A": 7.52, "B": 7.54, "C": 7.68, "D": 8.48, "E": 6.96, "F": 6.32, "G": 8.53, "H": 8.27, "I": 4.63, "J": 5.00,
    "K": 7.62, "L": 6.12, "M": 9.27, "N": 8.23, "O": 8.66, "P": 6.63, "Q": 8.66, "R": 7.65, "S": 7.52, "T": 6.78,
    "U": 8.05, "V": 7.52, "W": 10.88, "X": 7.54, "Y": 6.77, "Z": 7.54,
    "a": 6.61, "b": 6.85, "c": 5.73, "d": 6.85, "e": 6.55, "f": 3.87, "g": 6.85, "h": 6.96, "i": 3.02, "j": 3.79,
    "k": 6.51, "l": 3.02, "m": 10.71, "n": 6.96, "o": 6.68, "p": 6.85, "q": 6.85, "r": 4.69, "s": 5.73, "t": 4.33,
    "u": 6.96, "v": 6.51, "w": 8.98, "x": 6.51, "y": 6.51, "z": 5.78,
}
_DEFAULT_WIDTH = 7.00  # other Latin letters
_WIDE_WIDTH = 11.00  # CJK and other full-width characters
# Verdana Bold runs about this much wider than the regular weight.
_BOLD_FACTOR = 1.12
_CAPS_FONT_SCALE = 10 / 11
_CAPS_LETTER_SPACING = 1.25


def _char_width(ch: str) -> float:
    known = _WIDTHS.get(ch)
    if known is not None:
        return known
    if ord(ch) >= 0x1100 and _wide(ch):
        return _WIDE_WIDTH
    return _DEFAULT_WIDTH


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def text_width(text: str, style: str = "flat") -> float:
    """Estimated width in px of ``text`` as the style draws it (upper-case bold with spacing for
    ``for-the-badge``)."""
    if style == "for-the-badge":
        text = text.upper()
        return sum(_char_width(c) * _CAPS_FONT_SCALE * _BOLD_FACTOR + _CAPS_LETTER_SPACING for c in text)
    return sum(_char_width(c) for c in text)


def resolve_color(value: str) -> str:
    """A colour name of COLORS or ``#rrggbb`` as the hex colour to draw; ValueError for anything else."""
    if not isinstance(value, str):
        raise ValueError("colour must be text")
    named = COLORS.get(value.strip().lower())
    if named is not None:
        return named
    if _HEX.fullmatch(value.strip()):
        return value.strip().lower()
    raise ValueError(f"unknown colour {value!r}: use one of {', '.join(sorted(COLORS))} or #rrggbb")


def _light(hex_color: str) -> bool:
    """Whether dark text reads better than white on this background (YIQ brightness, as shields.io does)."""
    h = hex_color.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return (r * 299 + g * 587 + b * 114) / 1000 >= 170


def _clean(text: str) -> str:
    # characters XML 1.0 cannot hold at all (escaping does not help), and line breaks that would break the layout
    cleaned = "".join(c if c >= " " and not 0xD800 <= ord(c) <= 0xDFFF and c not in "\ufffe\uffff" else " "
                      for c in text)
    return " ".join(cleaned.split())


def badge(label: str, message: str, color: str, style: str = "flat", label_color: str | None = None) -> str:
    """The SVG of one badge. ``label`` may be empty (then only the message is drawn). ValueError for an unknown
    style or colour, or text longer than MAX_TEXT."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}: use one of {', '.join(STYLES)}")
    label, message = _clean(label or ""), _clean(message or "")
    if len(label) > MAX_TEXT or len(message) > MAX_TEXT:
        raise ValueError(f"badge text is limited to {MAX_TEXT} characters")
    message_fill = resolve_color(color)
    label_fill = resolve_color(label_color) if label_color else LABEL_COLOR
    caps = style == "for-the-badge"
    shown_label, shown_message = (label.upper(), message.upper()) if caps else (label, message)
    height = 28 if caps else 20
    padding = 12 if caps else 5
    label_text_w = text_width(label, style)
    message_text_w = text_width(message, style)
    label_w = round(label_text_w + 2 * padding) if label else 0
    message_w = round(message_text_w + 2 * padding)
    width = label_w + message_w
    accessible = f"{label}: {message}" if label else message

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label={quoteattr(accessible)}>',
        f"<title>{escape(accessible)}</title>",
    ]
    if style == "flat":
        parts += [
            '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
            '<stop offset="1" stop-opacity=".1"/></linearGradient>',
            f'<clipPath id="r"><rect width="{width}" height="{height}" rx="3" fill="#fff"/></clipPath>',
            '<g clip-path="url(#r)">',
        ]
    else:
        parts.append('<g shape-rendering="crispEdges">')
    if label:
        parts.append(f'<rect width="{label_w}" height="{height}" fill="{label_fill}"/>')
    parts.append(f'<rect x="{label_w}" width="{message_w}" height="{height}" fill="{message_fill}"/>')
    if style == "flat":
        parts.append(f'<rect width="{width}" height="{height}" fill="url(#s)"/>')
    parts.append("</g>")

    font_size = 100 if caps else 110
    weight = ' font-weight="bold"' if caps else ""
    spacing = f' letter-spacing="{_CAPS_LETTER_SPACING * 10:g}"' if caps else ""
    parts.append(f'<g text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
                 f'text-rendering="geometricPrecision" font-size="{font_size}"{weight}{spacing}>')
    baseline = 175 if caps else 140
    for text, x0, w, text_w, fill in ((shown_label, 0, label_w, label_text_w, label_fill),
                                      (shown_message, label_w, message_w, message_text_w, message_fill)):
        if not text:
            continue
        x = round((x0 + w / 2) * 10)
        length = max(round(text_w * 10), 1)
        dark = _light(fill)
        if style == "flat":  # the shadow under the text
            shadow = "#ccc" if dark else "#010101"
            parts.append(f'<text aria-hidden="true" x="{x}" y="{baseline + 10}" fill="{shadow}" fill-opacity=".3" '
                         f'transform="scale(.1)" textLength="{length}">{escape(text)}</text>')
        parts.append(f'<text x="{x}" y="{baseline}" transform="scale(.1)" fill="{"#333" if dark else "#fff"}" '
                     f'textLength="{length}">{escape(text)}</text>')
    parts.append("</g></svg>")
    return "".join(parts)


# --- what the badges say ------------------------------------------------------------------------------------------

INDICATOR_BADGES: dict[str, tuple[str, str]] = {
    "none": ("operational", "green"),
    "minor": ("degraded", "yellow"),
    "major": ("partial outage", "orange"),
    "critical": ("major outage", "red"),
    "maintenance": ("maintenance", "blue"),
}

STATUS_BADGES: dict[ComponentStatus, tuple[str, str]] = {
    ComponentStatus.OPERATIONAL: ("operational", "green"),
    ComponentStatus.DEGRADED: ("degraded", "yellow"),
    ComponentStatus.PARTIAL_OUTAGE: ("partial outage", "orange"),
    ComponentStatus.MAJOR_OUTAGE: ("major outage", "red"),
    ComponentStatus.MAINTENANCE: ("maintenance", "blue"),
}

NO_DATA = ("no data", "grey")


def indicator_badge(indicator: str) -> tuple[str, str]:
    """(message, colour) for a page indicator (none, minor, major, critical, maintenance)."""
    return INDICATOR_BADGES.get(indicator, ("unknown", "grey"))


def status_badge(status: ComponentStatus | str) -> tuple[str, str]:
    """(message, colour) for a component status."""
    return STATUS_BADGES[ComponentStatus(status)]


def uptime_color(percent: float | None) -> str:
    if percent is None:
        return "grey"
    if percent >= 99.9:
        return "green"
    if percent >= 99:
        return "yellowgreen"
    if percent >= 95:
        return "orange"
    return "red"


def uptime_badge(percent: float | None) -> tuple[str, str]:
    """(message, colour) for an uptime percentage; "no data" without one."""
    return NO_DATA if percent is None else (format_percent(percent), uptime_color(percent))


def response_time_color(ms: float | None) -> str:
    if ms is None:
        return "grey"
    if ms < 200:
        return "green"
    if ms < 500:
        return "yellowgreen"
    if ms < 1000:
        return "yellow"
    if ms < 2000:
        return "orange"
    return "red"


def response_time_badge(ms: float | None) -> tuple[str, str]:
    """(message, colour) for an average response time in milliseconds."""
    if ms is None:
        return NO_DATA
    text = f"{ms / 1000:.2f} s" if ms >= 1000 else f"{round(ms)} ms"
    return text, response_time_color(ms)
