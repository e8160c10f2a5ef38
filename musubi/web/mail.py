"""Mail printed to the terminal as a person reads it, for demos and machines without a mail server.

Django's console backend prints the wire format, where Japanese text is base64 and a link cannot be read.
"""

from __future__ import annotations

from typing import Any

from django.core.mail.backends.console import EmailBackend


class ReadableConsoleBackend(EmailBackend):
    def write_message(self, message: Any) -> None:
        lines = [
            "-" * 72,
            f"From: {message.from_email}",
            f"To: {', '.join(message.to)}",
            f"Subject: {message.subject}",
            "",
            message.body.rstrip(),
            "-" * 72,
        ]
        self.stream.write("\n".join(lines) + "\n")
