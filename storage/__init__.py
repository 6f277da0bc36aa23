"""Persistence: tortoise models, database start-up, schema migrations."""
