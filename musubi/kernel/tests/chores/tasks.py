from django.tasks import task


@task
def record_effect(chore_id: int) -> None:
    from musubi.kernel.tests.chores.models import ChoreEffect

    ChoreEffect.objects.create(chore_id=chore_id, worker="task")
