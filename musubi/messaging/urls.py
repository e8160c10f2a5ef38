"""Public URLs that messages link to."""

from django.urls import path

from musubi.messaging import line_image_views, views

urlpatterns = [
    path("m/o/<str:token>", views.open_pixel, name="messaging_open"),
    path("m/c/<str:token>", views.click, name="messaging_click"),
    path("m/u/<str:token>", views.unsubscribe, name="messaging_unsubscribe"),
    path("m/p/<str:token>", views.preferences, name="messaging_preferences"),
    # A LINE message's picture; the preview is the same file, kept within LINE's limit for previews.
    path("li/<uuid:key>", line_image_views.line_image, name="line_image"),
    path("li/<uuid:key>/preview", line_image_views.line_image, name="line_image_preview"),
]
