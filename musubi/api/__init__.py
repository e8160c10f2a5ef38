"""Top layer: the REST API under /api/v1/ (django-ninja), authenticated by per-workspace bearer keys."""
