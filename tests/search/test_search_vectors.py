"""The search rows PostgreSQL reads (search_vec_<tier>: a narrow row per document, its tsvector written by
the application and stored out of line): what a vector and a query hold, that both engines match exactly
what the token model of FTS5 matches (phrases at a document's edges, pairs with and without a common word,
prefixes, stems, NOT), and that ranking only the candidates gives the order of ranking every match.

Runs on SQLite and, with `-m postgres` and DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.db import connection

from archive import search, services
from archive.models import Segment
from archive.search.documents import META_SEGMENT, pg_doc_key, stem_count, tokens
from archive.search.query import Phrase, Stem, rank_candidates, stemmed
from archive.search.ranking import _phrase_count
from tests.builders import World

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_a_vector_holds_words_stems_pairs_with_a_common_word_and_repeat_marks():
    vector = search.pg_vector(tokens("the detainees of the siege siege"))
    assert vector == (
        "'the':1,4 '#the' 'detainees':2 '~detaine':2 'of':3 'siege':5,6 '#siege' '~sieg':5,6 '#~sieg' "
        "'_the_detainees':1 '_detainees_of':2 '_of_the':3 '_the_siege':4"
    )  # no pair of two uncommon words ("siege siege")
    assert search.pg_vector(tokens("the the the")) == "'the':1,2,3 '#the' '##the' '_the_the':1,2 '#_the_the'"
    assert search.pg_vector([]) == ""
    assert search.pg_vector(["x" * 3000, "of"]) == "'of':2"  # a word too long for PostgreSQL is not indexed


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"of the"', "'_of_the'"),
        ('"the siege"', "'_the_siege'"),
        ('"old city"', "('old' <1> 'city')"),
        ('"the siege of the"', "('_the_siege' <1> '_siege_of' <1> '_of_the')"),
        ('"siege of old city"', "('_siege_of' <1> '_of_old' <2> 'city')"),
        ('"the old city walls"', "('_the_old' <2> 'city' <1> 'walls')"),
        ('"in the sp"*', "('_in_the' <1> '_the_sp':*)"),
        ('"siege ca"*', "('siege' <1> 'ca':*)"),
        ('"siege of"*', "('siege' <1> 'of':*)"),
        ('"of siege"*', "'_of_siege':*"),
        ("queu*", "'queu':*"),
        ('"bread" NOT "queue"', "(('bread') & !'queue')"),
        ('"bread" OR "water"', "('bread' | 'water')"),
    ],
)
def test_a_query_is_pairs_words_and_prefixes_at_their_distances(query, expected):
    assert search.to_tsquery(search.parse(query)) == expected


def test_a_word_is_its_stem_and_only_lexeme_queries_are_ranked_from_candidates():
    word = stemmed(search.parse("detainees"))
    assert search.to_tsquery(word) == "('detaine' | '~detaine')"
    assert rank_candidates(word) == (
        "'#detaine' | '#~detaine' | ('detaine' & '~detaine')",
        "'##detaine' | '##~detaine' | ('detaine' & '~detaine')",
    )
    assert rank_candidates(search.parse('"of the"')) == ("'#_of_the'", "'##_of_the'")
    for query in ['"old city"', "bread water", "queu*", '"bread" NOT "queue"', "a OR b OR c OR d OR e"]:
        assert rank_candidates(stemmed(search.parse(query))) is None, query


def test_the_search_vectors_migration_is_todays_layout():
    frozen = importlib.import_module("archive.migrations.0010_search_vectors")
    made = [" ".join(statement.split()) for statement in search.vector_statements("postgresql")]
    assert made == frozen.POSTGRESQL_FORWARDS
    assert search.vector_statements("sqlite") == []


# Matching: both engines against the token model ------------------------------------------------------


def _matches(tree: Any, sequence: list[str]) -> bool:
    """The token model FTS5 matches with (and the visible-only bm25 counts with)."""
    if isinstance(tree, Stem):
        return stem_count(sequence, tree.root) > 0
    if isinstance(tree, Phrase):
        return _phrase_count(sequence, tree) > 0
    if any(_matches(child, sequence) for child in tree.negated):
        return False
    found = [_matches(child, sequence) for child in tree.children]
    return all(found) if tree.op == "and" else any(found)


TEXTS = [
    "Summer came late that year, and we waited for the convoy of",  # ends with "of", starts with "summer"
    "Of summer we remember the heat.",
    "The old city walls fell; the city of old stood.",
    "Siege siege siege: the siege of the old city.",
    "The detainees were released, one detainee stayed.",
    "City old walls and the old wall.",
    "في الحي كانت العائلة في الحي القديم",
    "الحي في الصباح",
    "Bread queue, bread again, and the bread queue was long.",
    "the the the of the",
    "Convoy",
]
QUERIES = [
    '"of summer"',
    '"summer of"',
    '"of the"',
    '"the of"',
    '"the old city"',
    '"old city"',
    '"city old"',
    '"the siege of the old city"',
    '"siege siege"',
    '"siege of"*',
    '"the ci"*',
    '"old ci"*',
    "detainee",
    '"detainee"',
    "siege",
    '"في الحي"',
    '"الحي في"',
    "الحي",
    "bread NOT queue",
    '"bread queue" OR convoy',
    "the AND old",
    '"the the"',
    "conv*",
]


@pytest.fixture
def corpus(db):
    world = World()
    ids = [
        world.interview("Edges", TEXTS[:6], summary="The convoy of summer.").pk,
        world.interview("More", TEXTS[6:], language="ar").pk,
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT interview_id, seg_index, body FROM search_doc_public")
        return {(i, n): tokens(body) for i, n, body in cursor.fetchall() if i in ids}


@pytest.mark.parametrize("query", QUERIES)
def test_both_engines_match_exactly_the_documents_of_the_token_model(corpus, query):
    results = search.run_search(
        search.visible_by_tier_for_tier("public"), query, filters=search.Filters(collection="search-a"), per_page=50
    )
    tree = stemmed(search.parse(query))
    expected = sorted(key for key, sequence in corpus.items() if _matches(tree, sequence))
    assert results.total == len(expected)
    by_public_id = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT public_id, interview_id FROM search_meta WHERE tier = 'public'")
        by_public_id = dict(cursor.fetchall())
    found = sorted(
        (by_public_id[hit.interview_id], META_SEGMENT if hit.segment_index is None else hit.segment_index)
        for hit in results.hits
    )
    assert found == expected


# Ranking: the candidates give the order of every match ------------------------------------------------


def _ranked_one_by_one(tree: Any, limit: int) -> list[tuple[float, int]]:
    """Every match of the tier ranked by ts_rank, then interview and segment (what the shortcut avoids)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT -ts_rank(vec, %s::tsquery) AS score, interview_id, seg_index FROM search_vec_public "
            "WHERE vec @@ %s::tsquery ORDER BY score, interview_id, seg_index LIMIT %s",
            [search.to_tsquery(tree)] * 2 + [limit],
        )
        return [(float(score), pg_doc_key(i, n)) for score, i, n in cursor.fetchall()]


@pytest.mark.parametrize(
    "query",
    ["siege", '"siege"', '"the siege"', "detainee", '"of the"', "city", '"city"', "old OR city", "the", '"the"'],
)
@pytest.mark.parametrize("limit", [1, 2, 3, 5, 20])
def test_ranking_the_candidates_gives_the_order_of_ranking_every_match(query, limit):
    if connection.vendor != "postgresql":
        pytest.skip("ts_rank is PostgreSQL's")
    world = World()
    world.interview(
        "Ranked",
        [
            "the siege",
            "the siege of the siege",  # the pair twice
            "city of the old city",
            "detainees and a detainee",  # the word and its stem
            "siege siege siege",
            "a detainee",
            "old city",
            "the city",
            "the the",
            "the siege, the siege and the siege again",  # the pair three times
            "siege",
            "city city",
        ],
    )
    world.interview(
        "Second",
        ["the siege began", "detainees", "the old city of the old city", "siege siege", "the siege", "city"],
    )
    tree = stemmed(search.parse(query))
    assert rank_candidates(tree) is not None
    seen = search.visible_by_tier_for_tier("public")
    with connection.cursor() as cursor:
        scope = search._load_scope(cursor, "public", seen["public"], search.Filters())
        shortcut = search.TierQuery(search.Backend(), cursor, scope, tree, search.Filters()).top(limit)
    assert shortcut == _ranked_one_by_one(tree, limit)
    assert shortcut


def test_a_search_row_keeps_its_vector_out_of_line(corpus):
    """The filler (compressed inline) makes every row long enough for PostgreSQL to store the vector in the
    TOAST table, so the rows a count reads stay narrow."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's storage")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltoastrelid::regclass::text FROM pg_class WHERE relname = 'search_vec_public'")
        toast = cursor.fetchone()[0]
        cursor.execute(f"SELECT count(DISTINCT chunk_id) FROM {toast}")
        out_of_line = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*), max(pg_column_size(filler)) FROM search_vec_public WHERE octet_length(vec::text) > 200"
        )
        long_vectors, filler_bytes = cursor.fetchone()
    assert long_vectors > 0
    assert out_of_line >= long_vectors
    assert filler_bytes < 100


def test_an_edit_rebuilds_whole_an_interview_indexed_by_an_earlier_version(db):
    """Rows written before an upgrade of the index (the migration leaves PostgreSQL's documents without
    search rows) are rebuilt whole by the next change, not patched segment by segment under a current
    stamp."""
    world = World()
    interview = world.interview("Upgraded", ["The convoy came at dawn.", "Bread was short."])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE search_meta SET policy = replace(policy, %s, '/s2') WHERE interview_id = %s",
            [search.schema.index_stamp(""), interview.pk],
        )
        if connection.vendor == "postgresql":
            cursor.execute("DELETE FROM search_vec_public WHERE interview_id = %s", [interview.pk])
    segment = Segment.objects.get(transcript__interview=interview, transcript__is_current=True, index=1)
    services.segment_edit(segment=segment, text="Flour was short.", actor=None)
    results = search.run_search(
        search.visible_by_tier_for_tier("public"), "convoy", filters=search.Filters(collection="search-a")
    )
    assert [(hit.title, hit.segment_index) for hit in results.hits] == [("Upgraded", 0)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT policy FROM search_meta WHERE tier = 'public' AND interview_id = %s", [interview.pk])
        assert cursor.fetchone()[0].endswith(search.schema.index_stamp(""))
