"""The ``musubi`` command: Django's management commands under Musubi's own name.

``musubi serve``, ``musubi worker``, ``musubi demo``, ``musubi migrate``, ``musubi createworkspace``…
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["musubi", *sys.argv[1:]])


if __name__ == "__main__":
    main()
