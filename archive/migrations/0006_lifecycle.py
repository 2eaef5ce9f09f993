"""Redactions that survive change: media provenance per segment, recordings as parts, held redactions,
the archive-wide rules clock, and per-recording audio in stored renderings."""

import django.db.models.deletion
from django.db import migrations, models


def provenance_forward(apps, schema_editor):
    """Segments of a transcript made from one recording refer to it at offset 0; a chat's voice notes
    (recorded in the transcript's options) to their note at the note's time. Stored renderings are
    rebuilt by `reindex` (their stamps no longer match the new policy code)."""
    Transcript = apps.get_model("archive", "Transcript")
    Segment = apps.get_model("archive", "Segment")
    Recording = apps.get_model("archive", "Recording")
    apps.get_model("archive", "PolicyClock").objects.get_or_create(pk=1)
    for transcript in Transcript.objects.all().iterator():
        if transcript.recording_id:
            Segment.objects.filter(transcript=transcript).update(recording_id=transcript.recording_id, media_offset=0.0)
        for note in (transcript.options or {}).get("in_place_notes", []):
            recording = Recording.objects.filter(public_id=note.get("recording")).first()
            if recording is None:
                continue
            offset = float(note.get("offset") or 0.0)
            Recording.objects.filter(pk=recording.pk).update(timeline_offset=offset, is_voice_note=True)
            end = offset + (recording.duration_seconds or 0.0) + 0.5
            Segment.objects.filter(transcript=transcript, start__gte=offset - 0.001, start__lt=end).update(
                recording_id=recording.pk, media_offset=offset
            )


class Migration(migrations.Migration):
    dependencies = [("archive", "0005_rendered_segment_digest")]

    operations = [
        migrations.CreateModel(
            name="PolicyClock",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("entity_rules", models.PositiveIntegerField(default=1)),
            ],
        ),
        migrations.AddField(
            model_name="recording", name="timeline_offset", field=models.FloatField(default=0.0)
        ),
        migrations.AddField(
            model_name="recording", name="is_voice_note", field=models.BooleanField(default=False)
        ),
        migrations.AddField(
            model_name="recording",
            name="replaced_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="archive.recording",
            ),
        ),
        migrations.AddField(
            model_name="segment",
            name="recording",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="archive.recording",
            ),
        ),
        migrations.AddField(model_name="segment", name="media_offset", field=models.FloatField(default=0.0)),
        migrations.AddField(model_name="redaction", name="held", field=models.BooleanField(default=False)),
        migrations.AddField(model_name="renderedinterview", name="audio_parts", field=models.JSONField(default=list)),
        migrations.RunPython(provenance_forward, migrations.RunPython.noop),
    ]
