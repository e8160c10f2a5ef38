from django.apps import AppConfig


class CaptureConfig(AppConfig):
    name = "musubi.capture"
    label = "capture"
    verbose_name = "Capture"

    def ready(self) -> None:
        from musubi.capture import confirmations, line_queue, visitors

        confirmations.register()
        line_queue.register()
        visitors.register()
