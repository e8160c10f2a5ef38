from django.apps import AppConfig


class PlannerConfig(AppConfig):
    name = "musubi.planner"
    label = "planner"
    verbose_name = "Planner"
