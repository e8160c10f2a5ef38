"""A complete seller's legal profile for tests that publish offers or sell them."""

from __future__ import annotations

from typing import Any

from musubi.workspaces.services import SYSTEM, save_legal_profile

COMPLETE_LEGAL_PROFILE = {
    "seller_name": "株式会社すこやか",
    "responsible_person": "山田 花子",
    "address": "東京都千代田区千代田1-1-1",
    "phone": "03-1234-5678",
    "email": "shop@example.jp",
    "price_note": "表示価格はすべて税込です。送料は全国一律550円（お試しセットは送料無料）。",
    "payment_methods": "クレジットカード、銀行振込、代金引換",
    "payment_timing": "クレジットカードはご注文時、銀行振込はご注文から7日以内、代金引換は商品お受け取り時",
    "delivery_timing": "ご注文（銀行振込はご入金確認）から5営業日以内に発送します。",
    "returns_policy": "商品到着後8日以内、未開封の場合に限り返品を承ります。返送料はお客様のご負担です。",
    "subscription_cancellation": "次回お届け日の7日前までに、マイページの解約ボタンからいつでも解約できます。",
}


def fill_legal_profile(workspace: Any, **overrides: str) -> None:
    save_legal_profile(workspace=workspace, actor=SYSTEM, **{**COMPLETE_LEGAL_PROFILE, **overrides})
