"""The monitoring tests; their shared helpers are in `monitoring.tests.support`."""

import pytest

# The support module asserts on what it reads: rewrite it as a test module (registered before
# anything imports it), so a failure there shows its values.
pytest.register_assert_rewrite("monitoring.tests.support")
