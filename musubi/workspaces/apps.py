from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "musubi.workspaces"
    label = "workspaces"
    verbose_name = "Workspaces"
