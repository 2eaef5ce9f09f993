"""The search page's filter form speaks labels: modes as a list of their names, languages by name."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db]


def test_the_mode_filter_lists_modes_by_name_and_keeps_the_choice(demo):
    body = Client().get("/search/", {"q": "water", "mode": "video_call"}).content.decode()
    select = re.search(r'<select id="f-mode" name="mode">(.*?)</select>', body, re.S).group(1)
    assert '<option value="video_call" selected>Video call (Skype etc.)</option>' in select
    assert '<option value="whatsapp_voice">WhatsApp voice</option>' in select
    assert "whatsapp_voice<" not in select  # no raw code shown as a name
    arabic = Client().get("/search/", HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert 'placeholder="العربية، الإنجليزية"' in arabic
