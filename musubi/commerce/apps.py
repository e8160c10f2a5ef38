from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "musubi.commerce"
    label = "commerce"
    verbose_name = "Commerce"

    def ready(self) -> None:
        from musubi.commerce import outgoing, tasks

        tasks.register()
        outgoing.register()
