from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "musubi.web"
    label = "web"
    verbose_name = "Web UI"
