"""Ranking and snippets: FTS5's bm25 computed from the statistics of the visible documents alone, and the
escaped text around a match."""

from __future__ import annotations

import math
from typing import Any

from django.utils.html import escape

from ..textnorm import normalise_with_map
from .documents import TOKEN, fold_token, stem, stem_count
from .query import Phrase, Stem, phrases_of

BM25_K1 = 1.2
BM25_B = 0.75
SNIPPET_CHARS = 220


def _phrase_count(sequence: list[str], phrase: Phrase | Stem) -> int:
    if isinstance(phrase, Stem):
        return stem_count(sequence, phrase.root)
    size = len(phrase.tokens)
    count = 0
    for i in range(len(sequence) - size + 1):
        window = sequence[i : i + size]
        if phrase.prefix:
            if window[:-1] == list(phrase.tokens[:-1]) and window[-1].startswith(phrase.tokens[-1]):
                count += 1
        elif tuple(window) == phrase.tokens:
            count += 1
    return count


def _bm25(tf: list[int], idf: list[float], dl: int, avgdl: float) -> float:
    score = 0.0
    for f, weight in zip(tf, idf, strict=True):
        score += weight * (f * (BM25_K1 + 1)) / (f + BM25_K1 * (1 - BM25_B + BM25_B * dl / avgdl))
    return -score


def _idf(n_docs: int, n_hits: int) -> float:
    value = math.log((n_docs - n_hits + 0.5) / (n_hits + 0.5))
    return value if value > 0 else 1e-6


def snippet(text: str, tree: Any, width: int = SNIPPET_CHARS) -> str:
    """Escaped display text around the first match, matched words wrapped in <mark>."""
    wanted = phrases_of(tree, positive_only=True)
    roots = {p.root for p in wanted if isinstance(p, Stem)}
    wanted = [p for p in wanted if isinstance(p, Phrase)]
    exact = {t for p in wanted for t in (p.tokens if not p.prefix else p.tokens[:-1])}
    prefixes = [p.tokens[-1] for p in wanted if p.prefix]
    norm, offsets = normalise_with_map(text)
    marks: list[tuple[int, int]] = []
    for m in TOKEN.finditer(norm):
        token = fold_token(m.group())
        if token in exact or any(token.startswith(p) for p in prefixes) or (roots and stem(token) in roots):
            start = offsets[m.start()]
            end = offsets[m.end() - 1] + 1
            marks.append((start, end))
    window_start, window_end = 0, len(text)
    if len(text) > width:
        centre = marks[0][0] if marks else 0
        window_start = max(0, min(centre - width // 3, len(text) - width))
        window_end = min(len(text), window_start + width)
        # Do not cut words in half.
        while window_start > 0 and text[window_start - 1].isalnum():
            window_start -= 1
        while window_end < len(text) and text[window_end].isalnum():
            window_end += 1
    pieces = ["…"] if window_start > 0 else []
    cursor = window_start
    for start, end in marks:
        if start < cursor or end > window_end:
            continue
        pieces.append(escape(text[cursor:start]))
        pieces.append("<mark>" + escape(text[start:end]) + "</mark>")
        cursor = end
    pieces.append(escape(text[cursor:window_end]))
    if window_end < len(text):
        pieces.append("…")
    return "".join(pieces)
