from django.apps import AppConfig


class CaptureConfig(AppConfig):
    name = "musubi.capture"
    label = "capture"
    verbose_name = "Capture"
