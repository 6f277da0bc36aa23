"""Checks: each takes a config and returns a CheckResult; they know nothing of components or the UI."""
