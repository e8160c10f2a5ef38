"""The LINE messages of a template or keyword rule, as the API reads and writes them (see
``messaging.line_messages`` for what each kind means). The limits LINE sets are checked by the service, which
names each field that breaks one; the bounds here only keep absurd input out."""

from typing import Annotated, Literal

from pydantic import Field

from musubi.api.types import Input


class LineActionIO(Input):
    kind: Literal["uri", "message", "postback"] = Field(
        description="`uri` opens `uri` (sent as a tracked link, so taps count as clicks); `message` makes the "
                    "friend send `text`; `postback` sends `data` to the webhook (recorded in the inbox) and "
                    "shows `display_text` in the chat.")
    label: str = Field(max_length=100, description="At most 20 characters.")
    uri: str = Field("", max_length=2000, description="https://, http://, tel: or line://; at most 1,000 characters.")
    text: str = Field("", max_length=1000, description="At most 300 characters.")
    data: str = Field("", max_length=1000, description="At most 300 characters.")
    display_text: str = Field("", max_length=1000, description="At most 300 characters.")


class LineTextIO(Input):
    kind: Literal["text"]
    text: str = Field(max_length=10_000, description="At most 5,000 characters; personalised ({{ name }} …).")


class LineImageMessageIO(Input):
    kind: Literal["image"]
    image: str = Field(max_length=64, description="The key of a picture uploaded by `POST /line-images`.")
    alt_text: str = Field("", max_length=1000, description="What the inbox says of the picture.")


class LineButtonsIO(Input):
    kind: Literal["buttons"]
    alt_text: str = Field(max_length=1000, description="What a notification shows; at most 400 characters.")
    image: str = Field("", max_length=64, description="Optional picture (a key from `POST /line-images`), "
                                                      "at most 1,024 pixels wide.")
    title: str = Field("", max_length=200, description="Optional; at most 40 characters.")
    text: str = Field(max_length=1000, description="At most 160 characters, or 60 with a picture or a title.")
    actions: list[LineActionIO] = Field(min_length=1, max_length=10, description="One to four buttons.")


LineMessageIO = Annotated[LineTextIO | LineImageMessageIO | LineButtonsIO, Field(discriminator="kind")]
