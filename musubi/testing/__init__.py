"""Helpers the test suites of several apps share: the route catalogue and workspace snapshots."""
