"""The chats tests; their shared helpers are in `chats.tests.support`."""

import pytest

# The support module asserts on answers: rewrite it as a test module (registered before anything
# imports it), so a failure there shows its values.
pytest.register_assert_rewrite("chats.tests.support")
