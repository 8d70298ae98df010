"""Shared test settings: hypothesis runs deterministically and without deadlines."""

from hypothesis import settings

settings.register_profile("dlteach", max_examples=25, deadline=None, derandomize=True)
settings.load_profile("dlteach")
