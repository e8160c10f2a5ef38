"""Capture points and coupons as the tests need them, made through the services."""

from __future__ import annotations

from typing import Any

from musubi.capture import coupons, points
from musubi.workspaces.choices import Role
from musubi.workspaces.models import Workspace
from musubi.workspaces.services import Actor

SURVEY = [
    {"key": "visits", "label": "ご来店の頻度", "kind": "single", "required": True,
     "options": ["初めて", "月1回", "週1回以上"]},
    {"key": "likes", "label": "お好きなメニュー", "kind": "multiple", "required": False,
     "options": ["唐揚げ", "焼き鳥", "刺身"]},
    {"key": "comment", "label": "ご意見", "kind": "long_text", "required": False, "options": []},
]


def owner_actor() -> Actor:
    return Actor(role=Role.OWNER)


def wording(**changes: Any) -> points.Wording:
    values: dict[str, Any] = {
        "headline": "LINE登録で唐揚げ1皿無料", "consent_text": "お得なお知らせをメールで受け取ることに同意します",
        "purpose_text": "クーポンの送付とお知らせに利用します。", "sender_name": "株式会社むすび", "questions": SURVEY,
        "privacy_url": "https://izakaya.example.jp/privacy", "tokushoho_url": "https://izakaya.example.jp/law"}
    values.update(changes)
    return points.Wording(**values)


def coupon_definition(workspace: Workspace, **changes: Any) -> Any:
    terms: dict[str, Any] = {"name": "唐揚げ無料", "benefit": "唐揚げ1皿無料", "cost": 150, "valid_days": 30}
    terms.update(changes)
    return coupons.create_definition(workspace=workspace, actor=owner_actor(), terms=coupons.Terms(**terms))


def capture_point(workspace: Workspace, *, wording_changes: dict[str, Any] | None = None, **setup: Any) -> Any:
    values: dict[str, Any] = {"name": "テーブルQR"}
    values.update(setup)
    return points.create_capture_point(workspace=workspace, actor=owner_actor(), setup=points.Setup(**values),
                                       wording=wording(**(wording_changes or {})))


def entry(**changes: Any) -> points.Entry:
    values: dict[str, Any] = {"email": "Hanako@Example.JP", "name": "山田花子", "consented": True,
                              "answers": {"visits": "月1回", "likes": ["刺身", "唐揚げ"]},
                              "ip_address": "198.51.100.7", "user_agent": "Mozilla/5.0 (iPhone)"}
    values.update(changes)
    return points.Entry(**values)
