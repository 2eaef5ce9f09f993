"""The search acceptance tests again on PostgreSQL (tsvector + GIN). scripts/test.sh runs `pytest -m postgres`
with DATABASE_URL set; on SQLite these are skipped here because tests/search/test_search.py already runs them."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.search import test_search as base

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("runs on PostgreSQL (DATABASE_URL=postgresql://…)")


world = base.world

test_it_finds_words_phrases_prefixes_and_boolean_queries_pg = (
    base.test_it_finds_words_phrases_prefixes_and_boolean_queries
)
test_it_hides_a_term_redacted_above_the_tier_everywhere_pg = (
    base.test_it_hides_a_term_redacted_above_the_tier_everywhere
)
test_it_scores_visible_hits_the_same_pg = (
    base.test_it_scores_visible_hits_the_same_whether_or_not_hidden_documents_hold_the_term
)
test_it_ranks_a_partly_visible_tier_pg = base.test_it_ranks_a_partly_visible_tier_from_visible_documents_only
test_it_normalises_arabic_pg = base.test_it_normalises_arabic
test_it_matches_phrases_of_common_words_pg = base.test_it_matches_phrases_of_common_words_through_word_pairs
test_it_expands_aliases_only_where_visible_pg = base.test_it_expands_aliases_only_where_the_entity_is_visible
test_it_removes_a_withdrawn_interview_in_the_same_transaction_pg = (
    base.test_it_removes_a_withdrawn_interview_in_the_same_transaction
)
test_it_filters_facets_and_paginates_pg = base.test_it_filters_facets_and_paginates
test_it_escapes_snippets_pg = base.test_it_escapes_snippets
test_it_serves_the_page_api_and_command_and_audits_above_public_pg = (
    base.test_it_serves_the_page_api_and_command_and_audits_above_public
)
test_it_reindexes_to_the_same_documents_pg = base.test_it_reindexes_to_the_same_documents
test_it_finds_an_interview_by_its_rendered_metadata_pg = (
    base.test_it_finds_an_interview_by_its_rendered_metadata_without_segment_times
)
test_it_stems_and_keeps_quoted_phrases_exact_pg = (
    base.test_it_stems_english_and_arabic_words_and_keeps_quoted_phrases_exact
)
test_filters_take_labels_pg = base.test_filters_take_the_labels_users_see_and_facets_show_labels
test_suggestions_are_words_as_written_pg = base.test_suggestions_are_words_as_written_and_the_page_asks_for_them
test_a_hidden_word_is_found_by_no_stem_field_label_or_suggestion_pg = (
    base.test_a_word_hidden_at_a_tier_is_found_there_by_no_stem_metadata_field_label_or_suggestion
)
