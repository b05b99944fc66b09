"""Jinja2 templates of the notification emails, one file per part and language."""
