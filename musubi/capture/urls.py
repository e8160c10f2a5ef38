"""Public URLs of capture; short, because they are printed on table cards and flyers."""

from django.urls import path

from musubi.capture import views

urlpatterns = [
    path("r/<str:code>", views.follow, name="follow_link"),
    path("p/<str:code>", views.optin_page, name="capture_page"),
    path("p/<str:code>/embed", views.optin_embed, name="capture_embed"),
    path("p/<str:code>/thanks/<str:token>", views.optin_thanks, name="capture_thanks"),
    path("p/<str:code>/confirm/<str:token>", views.optin_confirm, name="capture_confirm"),
    path("p/<str:code>/image/<int:number>", views.optin_image, name="capture_image"),
    path("c/<str:code>", views.coupon_page, name="coupon_page"),
    path("c/<str:code>/qr.svg", views.coupon_qr, name="coupon_qr"),
    path("line/webhook/<str:channel_id>", views.line_webhook, name="line_webhook"),
    path("line/join/<str:channel_id>", views.line_join, name="line_join"),
    path("line/callback", views.line_callback, name="line_callback"),
]
