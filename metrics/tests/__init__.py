"""The metrics tests; their shared helpers are in `metrics.tests.support`."""

import pytest

# The support module asserts on what /metrics answers: rewrite it as a test module (registered
# before anything imports it), so a failure there shows its values.
pytest.register_assert_rewrite("metrics.tests.support")
