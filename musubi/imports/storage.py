"""Uploaded files, kept in the database in 1 MB blocks and read back as a stream of CSV records.

The database rather than the data directory, because a worker on another machine must be able to read the
file with nothing shared but the database (the data directory is per machine), and because a backup of the
database then holds the evidence an import's consent records point at. Blocks keep memory flat: neither
storing nor reading ever holds more than one block.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from musubi.imports import rules
from musubi.imports.models import Import, ImportBlock

BLOCK = 1024 * 1024


def _blocks_of(chunks: Iterable[bytes]) -> Iterator[bytes]:
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        while len(pending) >= BLOCK:
            yield bytes(pending[:BLOCK])
            del pending[:BLOCK]
    if pending:
        yield bytes(pending)


def store(job: Import, chunks: Iterable[bytes]) -> rules.Detection:
    """Write the file into blocks of ``job`` and say what its bytes can be read as."""
    detector = rules.Detector()
    seq = 0
    for seq, block in enumerate(_blocks_of(chunks), start=1):
        detector.feed(block)
        ImportBlock.objects.create(workspace_id=job.workspace_id, job=job, seq=seq, data=block)
    detector.feed(b"", final=True)
    job.blocks = seq
    return detector.result


class BlockStream(io.RawIOBase):
    """The stored file as a readable binary stream, one block in memory at a time."""

    def __init__(self, job: Import):
        self.job = job
        self.seq = 0
        self.block = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self.block:
            if self.seq >= self.job.blocks:
                return 0
            self.seq += 1
            data = (ImportBlock.objects.filter(job_id=self.job.pk, seq=self.seq)
                    .values_list("data", flat=True).first())
            self.block = memoryview(bytes(data or b""))
        n = min(len(buffer), len(self.block))
        buffer[:n] = self.block[:n]
        self.block = self.block[n:]
        return n


def records(job: Import, *, encoding: str | None = None) -> Iterator[list[str]]:
    """The file's CSV records, header first, decoded with the import's encoding (or ``encoding``). Raises
    ``UnicodeDecodeError`` where the bytes are not of that encoding. NUL characters, which PostgreSQL cannot
    store and no spreadsheet means, are dropped."""
    codec = rules.python_codec(encoding or job.encoding, has_bom=job.has_bom)
    text = io.TextIOWrapper(io.BufferedReader(BlockStream(job), buffer_size=BLOCK), encoding=codec, newline="")
    lines = (line.replace("\x00", "") if "\x00" in line else line for line in text)
    yield from csv.reader(lines)
