import io

from django.core.mail import EmailMessage

from musubi.web.mail import ReadableConsoleBackend


def test_console_mail_shows_japanese_and_links_as_written():
    stream = io.StringIO()
    backend = ReadableConsoleBackend(stream=stream)
    body = "パスワードを設定してください。\nhttp://127.0.0.1:8000/password-reset/MQ/abc-123/\n"
    backend.send_messages([EmailMessage("【Musubi】ご案内", body, "from@example.com", ["to@example.com"])])
    printed = stream.getvalue()
    assert "Subject: 【Musubi】ご案内" in printed
    assert "パスワードを設定してください。" in printed
    assert "http://127.0.0.1:8000/password-reset/MQ/abc-123/" in printed
