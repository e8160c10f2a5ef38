from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "musubi.contacts"
    label = "contacts"
    verbose_name = "Contacts"
