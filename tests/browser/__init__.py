"""Browser tests (pytest marker ``browser``): the built site in Debian's Chromium through Playwright.

A package, so that its conftest does not take the name ``conftest`` from tests/conftest.py.
"""
