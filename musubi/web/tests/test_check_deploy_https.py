"""``check-deploy`` names an address that is not https: LINE fetches message pictures only over HTTPS."""

import pytest

from musubi.web.management.commands.check_deploy import musubi_problems

pytestmark = pytest.mark.django_db


def test_a_plain_http_address_is_named(settings):
    settings.MUSUBI_BASE_URL = "http://shop.example.jp"
    assert any("LINE fetches the pictures" in problem for problem in musubi_problems())
    settings.MUSUBI_BASE_URL = "https://shop.example.jp"
    assert not any("not https" in problem for problem in musubi_problems())
