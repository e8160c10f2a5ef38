"""Public URLs of selling: short, because they are sent in mails and printed in ads."""

from django.urls import path

from musubi.commerce import document_views, download_views, views

urlpatterns = [
    path("buy/<int:offer_id>", views.entries, name="checkout"),
    path("buy/<int:offer_id>/confirm", views.confirm, name="checkout_confirm"),
    path("orders/<str:token>", views.order_status, name="order_status"),
    path("orders/<str:token>/pay", views.order_pay, name="order_pay"),
    path("thanks/<str:token>", views.upsell_page, name="upsell_page"),
    path("orders/<str:token>/receipt.pdf", document_views.order_document, {"kind": "receipt"}, name="buyer_receipt"),
    path("orders/<str:token>/invoice.pdf", document_views.order_document, {"kind": "invoice"}, name="buyer_invoice"),
    path("orders/<str:token>/refund-note.pdf", document_views.order_document, {"kind": "refund_note"},
         name="buyer_refund_note"),
    path("s/<str:token>", views.subscription_page, name="subscription_page"),
    path("members/<str:token>", views.member_page, name="member_page"),
    path("dl/<str:token>", download_views.member_download, name="member_download"),
    path("stripe/webhook/<str:shop>", views.stripe_webhook, name="stripe_webhook"),
]
