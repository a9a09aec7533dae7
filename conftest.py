"""The project's fixtures live in the `testing` package, outside the apps."""

pytest_plugins = ["testing.plugin", "testing.people", "testing.browser"]
