"""Layer 0: money, time, tokens, errors, facts, events and durable work that every other app builds on."""
