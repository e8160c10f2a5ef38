"""Top layer: the site shell and the owners' and staff's web UI."""
