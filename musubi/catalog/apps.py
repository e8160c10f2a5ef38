from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "musubi.catalog"
    label = "catalog"
    verbose_name = "Catalog"
