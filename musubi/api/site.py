"""The NinjaAPI object: every router mounted on one API with one auth and one error shape."""

from ninja import NinjaAPI

from musubi.api.auth import ApiKeyAuth
from musubi.api.errors import JsonObjectParser, install_error_handlers
from musubi.api.routers import (
    broadcasts,
    capture,
    catalog,
    contacts,
    discount_codes,
    downloads,
    facts,
    imports,
    inbox,
    line_images,
    messaging,
    optins,
    orders,
    planner,
    segments,
    sequences,
    workspace,
)

api = NinjaAPI(
    title="Musubi API",
    version="1",
    description="Musubi's REST API. Every call acts on the workspace of its bearer key. Amounts are integers in "
    "the currency's minor unit (yen for JPY). Errors are `{\"error\": {\"code\", \"message\", \"fields\"}}`.",
    auth=ApiKeyAuth(),
    parser=JsonObjectParser(),
    urls_namespace="api",
)
install_error_handlers(api)
api.add_router("", workspace.router)
api.add_router("", facts.router)
api.add_router("", catalog.router)
api.add_router("", downloads.router)
api.add_router("", planner.router)
api.add_router("", imports.router)  # before contacts: /contacts/export.csv is not a contact's id
api.add_router("", contacts.router)
api.add_router("", capture.router)
api.add_router("", optins.router)
api.add_router("", segments.router)
api.add_router("", messaging.router)
api.add_router("", sequences.router)
api.add_router("", broadcasts.router)
api.add_router("", inbox.router)
api.add_router("", line_images.router)
api.add_router("", orders.router)
api.add_router("", discount_codes.router)
