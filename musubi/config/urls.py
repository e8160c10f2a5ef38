from django.urls import include, path

from musubi.api.site import api
from musubi.capture import views as capture

urlpatterns = [
    path("api/v1/", api.urls),
    path("r/<str:code>", capture.follow, name="follow_link"),
    path("", include("musubi.web.urls")),
]
