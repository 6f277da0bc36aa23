"""Notifications: what is sent to channels and subscribers when something on a status page changes."""
