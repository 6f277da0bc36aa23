"""docs/monitors.md is generated from the kinds' own descriptions: the committed page must be what the generator
writes now, and every kind must describe itself well enough to be documented."""

from __future__ import annotations

from monitors import docs, registry


def test_the_committed_monitors_page_is_what_the_generator_produces():
    committed = docs.PATH.read_text(encoding="utf-8")
    assert committed == docs.render(), "docs/monitors.md is out of date: run `python main.py docs monitors`"


def test_there_are_thirty_kinds_each_with_a_summary_a_library_and_labelled_settings():
    kinds = registry.load()
    assert len(kinds) == 30
    for kind in kinds.values():
        assert kind.summary.strip() and kind.library.strip() and kind.label.strip(), kind.name
        assert kind.family in docs.FAMILY_TITLES, kind.name
        assert all(f.label for f in kind.fields), kind.name
        assert f"(`{kind.name}`)" in docs.render()
