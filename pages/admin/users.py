"""Placeholder: this screen is being built (issue 5)."""
