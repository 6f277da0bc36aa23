"""What every benchmark script shares: its own section of docs/benchmarks.md, between two markers, replaced on
each run so that the page always shows the latest figures and whatever is written after the end marker stays."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(name: str, method: str, figures: str, doc: Path = DOC) -> None:
    """Put ``method`` and ``figures`` between the section's markers, appending the section if it is new."""
    start, end = markers(name)
    block = f"{start}\n{method}\n### Figures\n\n{figures.rstrip()}\n\n{end}"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(text)
