from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "musubi.imports"
    label = "imports"
    verbose_name = "Imports"

    def ready(self) -> None:
        from musubi.imports.processing import register_queue

        register_queue()
