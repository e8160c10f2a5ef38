"""Cursor pagination with a page size the schema bounds, so ``page_size=0`` is a clear 400."""

from ninja import Field, Schema
from ninja.pagination import CursorPagination

MAX_PAGE_SIZE = 200


class Cursor(CursorPagination):
    class Input(Schema):
        page_size: int | None = Field(default=None, ge=1, le=MAX_PAGE_SIZE,
                                      description=f"Items per page, 1–{MAX_PAGE_SIZE} (default 100).")
        cursor: str | None = Field(default=None, description="The `next` or `previous` value of a page.")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(page_size=100, max_page_size=MAX_PAGE_SIZE, **kwargs)  # type: ignore[arg-type]
