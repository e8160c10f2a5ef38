"""The ``musubi`` command: Django's management commands under Musubi's own name.

``musubi serve``, ``musubi worker``, ``musubi demo``, ``musubi migrate``, ``musubi createworkspace``…
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.settings")
    from django.core.management import execute_from_command_line

    args = sys.argv[1:]
    # Command modules cannot have hyphens in their names; the documented spelling does.
    if args and args[0] == "check-deploy":
        args[0] = "check_deploy"
    execute_from_command_line(["musubi", *args])


if __name__ == "__main__":
    main()
