"""Web and worker processes keep what they loaded at start out of full garbage collections
(``kernel.heap``): the entry points freeze it once loaded. Each is imported in a fresh interpreter, so the
count seen is that entry point's own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from musubi.kernel.tests.test_claims_processes import ROOT

ENTRY_POINTS = ["musubi.config.asgi", "musubi.config.wsgi"]


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_entry_point_freezes_what_it_loaded(module):
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "musubi.config.test_settings"}
    out = subprocess.run([sys.executable, "-c", f"import gc, {module}; print(gc.get_freeze_count())"],
                         cwd=ROOT, env=environment, capture_output=True, text=True, check=True).stdout
    # Django with Musubi's apps loaded is tens of thousands of objects; without the freeze the count is 0.
    assert int(out) > 20_000


def test_worker_freezes_before_its_loop(tmp_path):
    # A database of its own (SQLite in tmp_path), whatever the suite runs on: this process migrates it.
    environment = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    environment.update(DJANGO_SETTINGS_MODULE="musubi.config.test_settings", MUSUBI_DATA_DIR=str(tmp_path))
    script = ("import gc, django; django.setup()\n"
              "from django.core.management import call_command\n"
              "call_command('migrate', verbosity=0)\n"
              "before = gc.get_freeze_count()\n"
              "call_command('worker', once=True, processes=1)\n"
              "print(before, gc.get_freeze_count())\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True,
                         check=True).stdout
    before, after = map(int, out.split()[-2:])
    assert after - before > 20_000
