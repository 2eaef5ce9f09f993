"""Facets: each interview's facet values at a tier as one shared profile row, and the facet lists of a
search counted from them."""

# ruff: noqa: S608 -- table names come from the fixed TIERS list; every value is a query parameter.
from __future__ import annotations

import json
from collections import Counter
from typing import Any

from .labels import language_label, mode_label
from .schema import PROFILE_TABLE

FACETS = ("collection", "language", "year", "mode", "topic")


def facet_profile(meta: dict) -> str:
    """The facet values of an interview's metadata at a tier, as the canonical key of its profile."""
    values = [
        meta.get("collection", ""),
        meta.get("collection_title", ""),
        meta.get("year", ""),
        meta.get("mode", ""),
        list(dict.fromkeys(meta.get("topics") or [])),
    ]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def profile_id(cursor, meta: dict) -> int:
    """The id of the interview's facet profile (made on first use; works on a DB-API cursor too)."""
    key = facet_profile(meta)
    cursor.execute(f"SELECT id FROM {PROFILE_TABLE} WHERE key = %s", [key])
    row = cursor.fetchone()
    if row is None:
        cursor.execute(f"INSERT INTO {PROFILE_TABLE} (key) VALUES (%s) ON CONFLICT (key) DO NOTHING", [key])
        cursor.execute(f"SELECT id FROM {PROFILE_TABLE} WHERE key = %s", [key])
        row = cursor.fetchone()
    return int(row[0])


def _facets(rows: list[tuple[str, str, str, int]]) -> dict[str, list[dict[str, Any]]]:
    """Facet lists from (facet, value, label, count) rows of every tier searched."""
    tallies: dict[str, Counter] = {name: Counter() for name in FACETS}
    labels: dict[str, str] = {}
    for name, value, label, n in rows:
        if name != "collection" and not value:
            continue
        tallies[name][value] += n
        if name == "collection":
            labels[value] = label
    facets: dict[str, list[dict[str, Any]]] = {}
    for name, tally in tallies.items():
        ordered = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
        facets[name] = [
            {"value": value, "label": _label(name, value, labels), "count": count} for value, count in ordered
        ]
    return facets


def _label(name: str, value: str, collection_titles: dict[str, str]) -> str:
    """What users see for a facet value (in the active interface language): a collection's title, a
    mode's or a language's name; years and topics as they are."""
    if name == "collection":
        return collection_titles.get(value, value)
    if name == "mode":
        return mode_label(value)
    if name == "language":
        return language_label(value)
    return value
