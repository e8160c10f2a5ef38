from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "musubi.api"
    label = "api"
    verbose_name = "REST API"
