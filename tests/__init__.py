"""Tests of the project as a whole (setup, Compose, the lock, the worker groups), a package so
their shared helpers are imported by name (`tests.support`)."""
