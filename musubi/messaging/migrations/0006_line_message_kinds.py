"""LINE templates and keyword rules hold messages of several kinds (text, image, buttons) instead of plain
texts: each saved text becomes a text message, and back again when going back (where only the texts survive)."""

import django.db.models.deletion
import uuid
from django.db import migrations, models


def texts_to_messages(apps, schema_editor):
    for model, name in (("Template", "line_messages"), ("AutoReply", "messages")):
        rows = apps.get_model("messaging", model).objects.all()
        for row in rows.iterator():
            texts = getattr(row, name) or []
            setattr(row, name, [t if isinstance(t, dict) else {"kind": "text", "text": t} for t in texts])
            row.save(update_fields=[name])


def messages_to_texts(apps, schema_editor):
    for model, name in (("Template", "line_messages"), ("AutoReply", "messages")):
        for row in apps.get_model("messaging", model).objects.all().iterator():
            messages = getattr(row, name) or []
            setattr(row, name, [m.get("text", "") for m in messages if isinstance(m, dict) and m.get("kind") == "text"])
            row.save(update_fields=[name])


class Migration(migrations.Migration):

    dependencies = [
        ('messaging', '0005_secrets_encrypted'),
        ('workspaces', '0002_legal_profile'),
    ]

    operations = [
        migrations.RenameField(model_name='autoreply', old_name='texts', new_name='messages'),
        migrations.RenameField(model_name='template', old_name='line_texts', new_name='line_messages'),
        migrations.RunPython(texts_to_messages, messages_to_texts, elidable=False),
        migrations.AddField(
            model_name='answer',
            name='line_messages',
            field=models.JSONField(blank=True, default=list, help_text="The LINE messages to send (an auto-reply's); empty: the text."),
        ),
        migrations.AlterField(
            model_name='autoreply',
            name='messages',
            field=models.JSONField(default=list, help_text='Up to five LINE messages (messaging.line_messages).'),
        ),
        migrations.AlterField(
            model_name='template',
            name='line_messages',
            field=models.JSONField(blank=True, default=list, help_text='Up to five LINE messages (messaging.line_messages).'),
        ),
        migrations.CreateModel(
            name='LineImage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.UUIDField(default=uuid.uuid4, unique=True)),
                ('file', models.FileField(upload_to='line-images/')),
                ('content_type', models.CharField(max_length=16)),
                ('width', models.PositiveIntegerField()),
                ('height', models.PositiveIntegerField()),
                ('size', models.PositiveIntegerField()),
                ('name', models.CharField(blank=True, default='', help_text="The uploaded file's name.", max_length=200)),
                ('created_at', models.DateTimeField()),
                ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='workspaces.workspace')),
            ],
            options={
                'abstract': False,
            },
        ),
    ]
