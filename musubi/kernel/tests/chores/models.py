from django.db import models

from musubi.kernel.claims import DurableWork


class Chore(DurableWork):
    """A unit of test work; ``fail_times`` makes its handler fail that many attempts before succeeding."""

    label = models.CharField(max_length=50)
    fail_times = models.PositiveIntegerField(default=0)
    permanent = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.label


class ChoreEffect(models.Model):
    """The side effect of doing a chore once. Written outside the claim, so a repeat would show as a second row."""

    chore = models.ForeignKey(Chore, on_delete=models.CASCADE, related_name="effects")
    worker = models.CharField(max_length=100)
    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.chore_id} by {self.worker}"
