"""rights_on reads a user's roles once and answers what can_edit, can_redact and can_upload answer."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User

from archive.gate import policy

pytestmark = [pytest.mark.django_db]


def test_rights_on_agrees_with_each_rights_check_for_every_user_and_interview(demo, outsider):
    users = [AnonymousUser(), outsider, *User.objects.all()]
    assert len(users) > 4
    seen = set()
    for interview in demo.interviews.values():
        for user in users:
            rights = policy.rights_on(user, interview)
            expected = (
                policy.can_edit(user, interview),
                policy.can_redact(user, interview),
                policy.can_upload(user, interview.collection),
            )
            assert (rights.edit, rights.redact, rights.upload) == expected, (user, interview)
            seen.add(expected)
    # Every combination the demo's roles give is met (reader, field researcher, editor, interviewer).
    assert {(False, False, False), (True, True, True)} <= seen and len(seen) >= 3
