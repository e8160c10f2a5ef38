"""CSV imports of contacts (and their export), one layer above capture and below the web and the API.

An import needs the capture app — each import is credited to a source of kind ``import``, created through
``capture.services.create_source`` — and the contacts app's services, so it sits above both; the web pages
and the API sit above it.
"""
