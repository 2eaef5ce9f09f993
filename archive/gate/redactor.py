"""Finding and replacing everything hidden at one tier."""

from __future__ import annotations

from ..models import (
    TIER_ORDER,
    Redaction,
    Tier,
)
from ..textnorm import Gazetteer
from .identity import narrator_display
from .inputs import Inputs, identity_names
from .rules import Rule, replaced


class TierRedactor:
    """Finds and replaces everything hidden at one tier."""

    def __init__(self, inputs: Inputs, tier: str):
        self.tier = tier
        self.inputs = inputs

        def hidden_here(rule: Rule) -> bool:
            return TIER_ORDER[rule.visible_from] > TIER_ORDER[tier]

        names = [(name, rule) for name, rule in inputs.entity_names if hidden_here(rule)]
        if tier != Tier.CUSTODIAN:
            rules: dict[int, Rule] = {}
            for identity, name in identity_names(inputs):
                rule = rules.get(identity.narrator.pk)
                if rule is None:
                    display = narrator_display(identity, tier)
                    rule = rules[identity.narrator.pk] = Rule(Tier.CUSTODIAN, display, Redaction.Category.NAME)
                names.append((name, rule))
        self.gazetteer = Gazetteer(names)
        self.span_rules = {
            segment_id: [(s, e, r) for s, e, r in rules if hidden_here(r)]
            for segment_id, rules in inputs.span_rules.items()
        }
        # A name split by a segment boundary ("Tareq" | "Mansour"): each side is hidden like a span.
        # Only the boundaries where some tier's name may be split are looked at (Inputs.crossings).
        if self.gazetteer:
            for pair in inputs.crossings():
                for segment_id, start, end, rule in self.gazetteer.across(pair):
                    self.span_rules.setdefault(segment_id, []).append((start, end, rule))
        self.categories: set[str] = set()

    def intervals(
        self,
        text: str,
        segment_id: int | None = None,
        normalised: tuple[str, list[int]] | None = None,
        *,
        names: bool = True,
    ) -> list[tuple[int, int, Rule]]:
        """Hidden intervals of `text`; names=False only when Inputs.may_name ruled names out."""
        found: list[tuple[int, int, Rule]] = []
        if segment_id is not None:
            for start, end, rule in self.span_rules.get(segment_id, []):
                found.append((max(0, start), min(len(text), end), rule))
        if names and self.gazetteer:
            found.extend((m.start, m.end, m.key) for m in self.gazetteer.find(text, normalised))
        if not found:
            return found
        found = [item for item in found if item[1] > item[0]]
        found.sort(key=lambda item: (item[0], -item[1]))
        merged: list[tuple[int, int, Rule]] = []
        for start, end, rule in found:
            if merged and start < merged[-1][1]:
                previous = merged[-1]
                merged[-1] = (previous[0], max(previous[1], end), previous[2])
            else:
                merged.append((start, end, rule))
        return merged

    def apply(self, text: str, intervals: list[tuple[int, int, Rule]]) -> str:
        self.categories.update(rule.category for _start, _end, rule in intervals)
        return replaced(text, intervals)

    def text(self, text: str) -> str:
        return self.apply(text, self.intervals(text))
