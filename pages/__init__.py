"""NiceGUI pages: the admin dashboard, sign-in and first-run setup."""
