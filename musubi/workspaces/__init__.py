"""Layer 1: workspaces (a business or brand each), the people in them and their roles, API keys, audit log."""
