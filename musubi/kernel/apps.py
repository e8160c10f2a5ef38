from django.apps import AppConfig


class KernelConfig(AppConfig):
    name = "musubi.kernel"
    label = "kernel"
    verbose_name = "Musubi kernel"
