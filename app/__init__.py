"""Beacon: status pages and uptime monitoring."""
