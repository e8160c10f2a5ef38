from django.apps import AppConfig


class ChoresConfig(AppConfig):
    name = "musubi.kernel.tests.chores"
    label = "chores"

    def ready(self) -> None:
        from musubi.kernel.tests.chores.queue import register

        register()
