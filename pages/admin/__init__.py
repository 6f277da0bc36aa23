"""Admin screens under /admin."""
