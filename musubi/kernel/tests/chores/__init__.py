"""A test-only app with a durable-work table, so the claim facility is tested on real rows and real workers."""
