"""The labels users see for the codes search filters and facets use: a collection's title, a mode's name
("Video call"), a language's name ("English", "العربية"), in every interface language. Filters accept a
label or a code; facets show the label in the active interface language. Labels only: nothing here
decides what anyone may see (interview filters run on the tier's own metadata rows)."""

from __future__ import annotations

import functools
import re

from django.conf import settings
from django.conf.locale import LANG_INFO
from django.utils import translation
from django.utils.translation import get_language_info, gettext

from ..models import Interview
from ..textnorm import normalise

PARENTHESIS = re.compile(r"\([^)]*\)")
WORD = re.compile(r"[^\W_]+")


@functools.lru_cache(maxsize=4096)  # filters compare one value with every visible interview's labels
def label_key(text: str) -> str:
    """How a label or code is compared: normalised words ("Video call", "video_call" and "VIDEO CALL"
    compare equal; Arabic spellings as the search normalises them)."""
    return " ".join(WORD.findall(normalise(str(text or ""))))


@functools.lru_cache(maxsize=4096)
def _forms(label: str) -> frozenset[str]:
    """A label as users may type it: whole, or without its parenthesised part ("Video call" for
    "Video call (Skype etc.)")."""
    forms = {label_key(label), label_key(PARENTHESIS.sub(" ", label))}
    return frozenset(form for form in forms if form)


def _in_every_language(label: str) -> set[str]:
    forms = set(_forms(label))
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            forms |= _forms(gettext(label))
    return forms


@functools.lru_cache(maxsize=1)
def _mode_forms() -> dict[str, frozenset[str]]:
    return {
        code: frozenset(_in_every_language(str(label)) | {label_key(code)}) for code, label in Interview.Mode.choices
    }


@functools.lru_cache(maxsize=1)
def _language_forms() -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for code, info in LANG_INFO.items():
        if "name" not in info:
            continue
        forms = _in_every_language(info["name"]) | _forms(info.get("name_local", "")) | {label_key(code)}
        out[code] = frozenset(forms)
    return out


def matches_label(value: str, label: str) -> bool:
    key = label_key(value)
    return bool(key) and key in _forms(label)


@functools.lru_cache(maxsize=256)
def mode_codes(value: str) -> frozenset[str]:
    """The mode codes a mode filter names (a code, or a mode's label in any interface language)."""
    key = label_key(value)
    return frozenset({value} | {code for code, forms in _mode_forms().items() if key in forms})


def language_codes(value: str) -> list[str]:
    """The language codes a language filter names (a code, or a language's name in any interface
    language or in itself). An unknown value stays as given, and so matches only a code spelled so."""
    key = label_key(value)
    found = sorted(code for code, forms in _language_forms().items() if key in forms)
    return list(dict.fromkeys([value, *found]))


def mode_label(code: str) -> str:
    """A mode's label in the active interface language."""
    label = dict(Interview.Mode.choices).get(code)
    return gettext(str(label)) if label else code


def language_label(code: str) -> str:
    """A language's name in the active interface language ("ar" → "Arabic" / "العربية")."""
    base = (code or "").split("-")[0].lower()
    try:
        return str(get_language_info(base)["name_translated"]) if base else code
    except KeyError:
        return code
