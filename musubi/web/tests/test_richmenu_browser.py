"""The rich menu editor in a real browser: the chosen image appears at once and the areas typed into the
table are drawn over it, before anything is saved."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from musubi.capture import line as capture_line
from musubi.testing.images import png
from musubi.web.tests.test_browser import browser, page, shot  # noqa: F401  (fixtures)
from musubi.workspaces import services as workspaces

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_preview_follows_the_image_the_size_and_the_areas_as_they_are_typed(live_server, page,  # noqa: F811
                                                                                 owner_client, workspace,
                                                                                 tmp_path):
    channel = capture_line.connect_channel(workspace=workspace, actor=workspaces.SYSTEM, name="居酒屋むすび",
                                           channel_id="2001234567", channel_secret="a" * 32, access_token="t" * 40,
                                           greeting="")
    image = tmp_path / "menu.png"
    image.write_bytes(png(2500, 843, grey=120))
    session = owner_client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    page.goto(f"{live_server.url}/w/kenko/line/{channel.pk}/richmenus/new/")
    expect(page.get_by_role("heading", name="新しいリッチメニュー")).to_be_visible()

    page.get_by_label("サイズ", exact=True).select_option("843")
    page.set_input_files("input[name=image]", str(image))
    preview = page.locator("[data-richmenu-image]")
    expect(preview).to_have_attribute("src", re.compile("^blob:"))
    assert page.locator("[data-richmenu-areas]").get_attribute("viewBox") == "0 0 2500 843"

    page.locator("input[name=a0-x]").fill("1250")
    page.locator("input[name=a0-y]").fill("0")
    page.locator("input[name=a0-width]").fill("1250")
    page.locator("input[name=a0-height]").fill("843")
    rect = page.locator("[data-richmenu-areas] rect")
    expect(rect).to_have_count(1)
    assert [rect.get_attribute(k) for k in ("x", "y", "width", "height")] == ["1250", "0", "1250", "843"]
    # Drawn over the right half of the image as it is shown.
    shown, box = preview.bounding_box(), rect.bounding_box()
    assert shown and box
    assert abs(box["x"] - (shown["x"] + shown["width"] / 2)) < 3 and abs(box["width"] - shown["width"] / 2) < 3
    shot(page, "richmenu-editor-preview")
