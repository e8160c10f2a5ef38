"""An import of contacts from a CSV file: the job, the file it reads and the rows it checked."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from musubi.contacts.choices import LegalBasis
from musubi.imports.choices import Encoding, Phase
from musubi.kernel.claims import DurableWork
from musubi.kernel.models import WorkspaceOwned


class Import(WorkspaceOwned, DurableWork):
    """One CSV file an owner brings in, and the durable work of bringing it in.

    The owner uploads the file, maps its columns, names the legal basis on which the people in it may be sent
    advertising (特定電子メール法 Art. 3-1) with a note on the evidence, and asks for a dry run or the real
    thing. A worker claims the import (``DurableWork``) and goes through it in chunks: first it reads and
    checks every row into ``ImportRow``, then it writes the good rows to the contacts. Each chunk commits its
    rows together with the progress counters below, so a worker killed mid-chunk leaves the chunk undone and
    the next claimant starts exactly there: nothing is written twice.
    """

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField()
    file_name = models.CharField(max_length=200)
    file_size = models.PositiveBigIntegerField()
    blocks = models.PositiveIntegerField(default=0, help_text="How many ImportBlock rows hold the file.")
    valid_utf8 = models.BooleanField(default=False)
    valid_cp932 = models.BooleanField(default=False)
    has_bom = models.BooleanField(default=False)
    encoding = models.CharField(max_length=8, choices=Encoding.choices)
    headers = models.JSONField(default=list)
    preview = models.JSONField(default=list, help_text="The first rows, to show beside the mapping.")
    rows_estimate = models.PositiveIntegerField(default=0, help_text="Line count of the file, for progress.")
    mapping = models.JSONField(default=list, help_text="Per column: {'target': …, 'key': …}.")
    basis = models.CharField(max_length=16, choices=LegalBasis.choices, blank=True, default="")
    note = models.CharField(max_length=500, blank=True, default="")
    tags = models.JSONField(default=list, help_text="Tags every imported contact gets.")
    skip_invalid = models.BooleanField(default=False)
    dry_run = models.BooleanField(default=True)
    source = models.ForeignKey("capture.Source", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.UPLOADED)
    message = models.CharField(max_length=500, blank=True, default="")
    # Progress, committed with each chunk.
    staged = models.BooleanField(default=False, help_text="Every row is read and checked into ImportRow.")
    rows_read = models.PositiveIntegerField(default=0, help_text="Records read from the file (header excluded).")
    written_through = models.PositiveIntegerField(default=0, help_text="Good rows up to this line are written.")
    # Counts.
    rows_total = models.PositiveIntegerField(default=0)
    blank_rows = models.PositiveIntegerField(default=0)
    invalid_rows = models.PositiveIntegerField(default=0)
    duplicate_rows = models.PositiveIntegerField(default=0)
    created_contacts = models.PositiveIntegerField(default=0)
    merged_contacts = models.PositiveIntegerField(default=0)
    skipped_rows = models.PositiveIntegerField(default=0)
    finished_phase_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "created_at"], name="import_ws_created"),
            models.Index(fields=["status", "next_attempt_at"], name="import_ready"),
            models.Index(fields=["status", "lease_until"], name="import_lease"),
        ]

    def __str__(self) -> str:
        return self.file_name

    @property
    def good_rows(self) -> int:
        return self.rows_total - self.invalid_rows - self.duplicate_rows

    @property
    def error_rows(self) -> int:
        return self.invalid_rows + self.duplicate_rows

    @property
    def finished(self) -> bool:
        return self.phase in (Phase.UPLOADED, Phase.CHECKED, Phase.DONE, Phase.REFUSED, Phase.FAILED)

    @property
    def percent(self) -> int:
        """How far the work has come, for the progress bar: reading and checking is the first 40% of a real
        run (all of a dry run), writing the rest."""
        if self.phase in (Phase.CHECKED, Phase.DONE, Phase.REFUSED):
            return 100
        read = 1.0 if self.staged else min(self.rows_read / max(self.rows_estimate, 1), 0.99)
        if self.dry_run:
            return int(read * 100)
        good = max(self.good_rows, 1)
        written = self.written_contacts / good if self.staged else 0.0
        return int(min(0.4 * read + 0.6 * written, 0.99) * 100)

    @property
    def written_contacts(self) -> int:
        return self.created_contacts + self.merged_contacts


class ImportBlock(WorkspaceOwned):
    """A piece (1 MB) of an uploaded file. Files live in the database rather than in the data directory so any
    worker on any machine can read them with nothing shared but the database, and a backup holds them."""

    job = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "job", "seq"], name="importblock_unique_seq")]


class ImportRow(WorkspaceOwned):
    """A record of the file after checking: its addresses written the one way contacts store them, or what is
    wrong with it (``problems``; ``duplicate_of`` names an earlier line sharing an address). ``line`` is the
    spreadsheet's row number (the header is row 1).

    A staging area: rows are written a chunk at a time while checking and deleted as they are written to the
    contacts, so their keys carry no constraint in the database (PostgreSQL would check each row's keys on its
    own at commit, twice per row). Only the import's own code writes them, for the import it holds; deleting
    an import or its workspace through the ORM deletes them too, and changing the mapping deletes them
    (``services._forget_checks``). The workspace has no index of its own: the unique line leads with it."""

    workspace = models.ForeignKey(settings.MUSUBI_WORKSPACE_MODEL, on_delete=models.CASCADE, related_name="+",
                                  db_constraint=False, db_index=False)
    job = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    line = models.PositiveIntegerField()
    email = models.CharField(max_length=254, null=True, blank=True)
    phone = models.CharField(max_length=32, null=True, blank=True)
    line_user_id = models.CharField(max_length=33, null=True, blank=True)
    name = models.CharField(max_length=200, blank=True, default="")
    fields = models.JSONField(default=dict, blank=True)
    tags = models.TextField(blank=True, default="", help_text="One tag a line.")
    valid = models.BooleanField(default=True, help_text="Every cell of the row is good.")
    problems = models.JSONField(default=list, blank=True, help_text="[[column, message], …] of a row not valid.")
    duplicate_of = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "job", "line"], name="importrow_unique_line")]
