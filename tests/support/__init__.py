"""Helpers shared by the tests, imported as ``from support.<module> import ...``.

- ``apply_cli``  scripts/apply.py in a separate process, and a recording fake cluster CLI on PATH
- ``site_html``  reading the built site: the blocks each page shows

Fixtures stay in ``conftest.py``; what a test imports lives here (never ``from conftest import``).
"""
