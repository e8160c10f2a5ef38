from django.urls import include, path

from musubi.api.site import api
from musubi.web.legal_pages import legal_notice

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("musubi.capture.urls")),
    path("", include("musubi.messaging.urls")),
    path("anymail/", include("anymail.urls")),  # email services' webhooks: bounces, complaints, inbound mail
    path("", include("musubi.commerce.urls")),
    path("legal/<slug:shop>/", legal_notice, name="legal_notice"),
    path("", include("musubi.web.urls")),
]
