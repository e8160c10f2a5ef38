"""Public URLs that messages link to."""

from django.urls import path

from musubi.messaging import views

urlpatterns = [
    path("m/o/<str:token>", views.open_pixel, name="messaging_open"),
    path("m/c/<str:token>", views.click, name="messaging_click"),
    path("m/u/<str:token>", views.unsubscribe, name="messaging_unsubscribe"),
    path("m/p/<str:token>", views.preferences, name="messaging_preferences"),
]
