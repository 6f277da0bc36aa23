"""The mails about a subscription itself: the double opt-in confirmation, and the note sent when someone asks
again for an address that is already subscribed (so the form never tells the asker which addresses exist, while
the address's owner still gets a way in). Pure: plain values in, ``{subject, text, html}`` out."""

from __future__ import annotations

from html import escape
from typing import Any

from app.notify.tokens import CONFIRM_HOURS

_STYLE = 'font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; color: #1f2328;'
_BUTTON = ("display: inline-block; padding: 10px 18px; background: #1f6feb; color: #ffffff; "
           "border-radius: 6px; text-decoration: none; font-weight: 600;")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _html(title: str, paragraphs: list[str], link: str, link_text: str, footer: str) -> str:
    e = escape
    return "\n".join([
        "<!DOCTYPE html>", '<html><head><meta charset="utf-8">', f"<title>{e(title)}</title></head>",
        f'<body style="{_STYLE}">', f'<h1 style="font-size: 20px;">{e(title)}</h1>',
        *(f"<p>{e(p)}</p>" for p in paragraphs),
        f'<p><a href="{e(link)}" style="{_BUTTON}">{e(link_text)}</a></p>',
        f'<p style="font-size: 12px; color: #59636e;">{e(footer)}<br>{e(link)}</p>',
        "</body></html>", ""])


def _scope(components: list[str]) -> str:
    if not components:
        return "everything on the page"
    return "these components: " + ", ".join(components)


def confirmation(page_title: str, confirm_url: str, components: list[str]) -> dict[str, Any]:
    title = _one_line(page_title)
    subject = f"[{title}] Confirm your subscription"
    lines = [f"Someone, hopefully you, asked to get updates from {title} by e-mail about {_scope(components)}.",
             f"Confirm within {CONFIRM_HOURS} hours to start receiving them. If it was not you, ignore this "
             "mail: nothing will be sent without the confirmation."]
    text = "\n\n".join([subject.split("] ", 1)[1], *lines, f"Confirm: {confirm_url}"]) + "\n"
    html = _html("Confirm your subscription", lines, confirm_url, "Confirm subscription",
                 "If the button does not work, open this address:")
    return {"subject": subject, "text": text, "html": html}


def already_subscribed(page_title: str, manage_url: str, unsubscribe_url: str) -> dict[str, Any]:
    title = _one_line(page_title)
    subject = f"[{title}] You are already subscribed"
    lines = [f"Someone asked to subscribe this address to updates from {title}, and it already is.",
             "To choose which components you hear about, or to unsubscribe, open your subscription."]
    text = "\n\n".join([subject.split("] ", 1)[1], *lines, f"Your subscription: {manage_url}"]) + "\n"
    html = _html("You are already subscribed", lines, manage_url, "Manage subscription",
                 "If the button does not work, open this address:")
    return {"subject": subject, "text": text, "html": html, "unsubscribe": unsubscribe_url}
