"""Free text written about an interview (consent conditions, embargo events) as the editor's tier may read
it: it passes through the same tier redactor as the transcript, so a name hidden at the tier is hidden
there too."""

from __future__ import annotations

from ...models import Interview, Narrator
from ..identity import decode_identity
from ..inputs import Inputs
from ..redactor import TierRedactor
from ..rules import entity_rules


def free_text(interview: Interview, tier: str, texts: list[str]) -> list[str]:
    """`texts` as `tier` may read them: every entity hidden at the tier, and the legal names and aliases
    of the interview's narrators below custodian, replaced as the rendering replaces them."""
    if not any(texts):
        return list(texts)
    narrators = list(Narrator.objects.filter(interviews=interview).select_related("data_key"))
    inputs = Inputs(
        interview=interview,
        transcript=None,
        segments=[],
        span_rules={},
        entity_names=entity_rules(),
        identities={n.pk: decode_identity(n) for n in narrators},
        duration=None,
    )
    redactor = TierRedactor(inputs, tier)
    return [redactor.text(text) if text else text for text in texts]
