from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "musubi.messaging"
    label = "messaging"
    verbose_name = "Messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from musubi.messaging import provider_events, reactions, worker_queues

        worker_queues.register()
        reactions.subscribe_all()
        provider_events.connect()
