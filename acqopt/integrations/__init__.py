"""Plug-ins for other libraries (optional extras)."""
