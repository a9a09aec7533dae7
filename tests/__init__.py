"""Tests of the project as a whole (setup, Compose, the lock, the worker groups), a package so
their shared helpers are imported by name (`tests.compose_support`)."""

import pytest

# The support module holds fixtures and asserts: rewrite them as in a test module (registered
# before the test modules import it, so pytest_plugins finds it rewritten, with no warning).
pytest.register_assert_rewrite("tests.compose_support")
