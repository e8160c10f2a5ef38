"""Every route the URL configuration has, with its parameters filled from a given workspace's real objects.

The outsider sweeps use this so a route added later is covered without anyone remembering to add it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    template: str  # "w/<slug:slug>/members/<int:membership_id>/role/"
    name: str

    @property
    def params(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.template)

    def fill(self, values: dict[str, object]) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise KeyError(f"the sweep has no value for <{name}> in {self.template}: add one")
            return str(values[name])

        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, self.template)


def all_routes() -> list[Route]:
    routes: list[Route] = []

    def walk(patterns: list, prefix: str, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                walk(entry.url_patterns, prefix + str(entry.pattern), ns)
            elif isinstance(entry, URLPattern):
                routes.append(Route(prefix + str(entry.pattern), f"{namespace}{entry.name or ''}"))

    walk(get_resolver().url_patterns, "", "")
    return routes
