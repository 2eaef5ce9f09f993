"""Search benchmark: python -m benchmarks.search --segments N [--pg-url URL] --json

Generates realistic English + Arabic testimony-like segments (Zipf-distributed vocabulary, 30 % Arabic with
some harakat), builds the public tier's index through the bulk path (archive.search.make_doc, the same
function the transactional path uses, so documents are identical), then times 1-word, 2-word and phrase
queries through archive.search.run_search (count + facets + top 20 + snippets) and a naive LIKE scan.
PostgreSQL is measured when --pg-url or RAWI_PG_URL is given (a database named rawi_bench is recreated and
migrated; after the bulk load its search tables are vacuumed and analysed, as autovacuum would, and their
heap, TOAST and index sizes are reported).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

EN_COMMON = [
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "was",
    "we",
    "were",
    "it",
    "that",
    "he",
    "they",
    "my",
    "for",
    "on",
    "with",
    "at",
    "our",
    "by",
    "from",
    "this",
    "not",
    "there",
    "had",
    "but",
    "his",
    "all",
    "one",
    "people",
    "no",
    "when",
    "what",
    "about",
    "would",
    "could",
    "after",
    "house",
    "city",
    "street",
    "night",
    "day",
    "food",
    "water",
    "bread",
    "army",
    "checkpoint",
    "siege",
    "family",
    "brother",
    "mother",
    "children",
    "school",
    "hospital",
    "doctor",
    "shelling",
    "bombing",
    "truce",
    "convoy",
    "negotiations",
    "prisoners",
    "detainees",
    "district",
    "neighbourhood",
    "market",
    "prices",
    "sugar",
    "flour",
    "fuel",
    "electricity",
    "winter",
    "summer",
    "morning",
    "evening",
    "phone",
    "line",
    "internet",
    "message",
    "voice",
    "fear",
    "hope",
    "waiting",
    "years",
    "months",
    "weeks",
    "soldiers",
    "fighters",
    "government",
    "opposition",
    "committee",
    "agreement",
    "buses",
    "evacuation",
    "leave",
    "stay",
    "home",
    "roof",
    "window",
    "street",
    "corner",
    "mosque",
    "church",
    "teacher",
    "student",
    "lesson",
    "exams",
    "war",
    "peace",
    "news",
    "radio",
    "television",
    "journalist",
    "photographer",
    "camera",
    "pictures",
    "video",
    "friend",
    "neighbour",
    "cousin",
    "uncle",
    "wife",
    "husband",
    "son",
    "daughter",
]
AR_COMMON = [
    "في",
    "من",
    "على",
    "إلى",
    "أن",
    "كان",
    "كانت",
    "هذا",
    "هذه",
    "التي",
    "الذي",
    "مع",
    "عن",
    "لا",
    "ما",
    "كل",
    "بعد",
    "قبل",
    "نحن",
    "هم",
    "هي",
    "هو",
    "الحي",
    "الوعر",
    "حمص",
    "الحصار",
    "الخبز",
    "الماء",
    "الكهرباء",
    "المدرسة",
    "المستشفى",
    "الطبيب",
    "القصف",
    "الهدنة",
    "القافلة",
    "المفاوضات",
    "المعتقلين",
    "الأسرى",
    "السوق",
    "الأسعار",
    "السكر",
    "الطحين",
    "الوقود",
    "الشتاء",
    "الصيف",
    "الصباح",
    "المساء",
    "الهاتف",
    "الإنترنت",
    "رسالة",
    "صوت",
    "الخوف",
    "الأمل",
    "ننتظر",
    "سنوات",
    "أشهر",
    "أسابيع",
    "الجنود",
    "المقاتلين",
    "الحكومة",
    "المعارضة",
    "اللجنة",
    "الاتفاق",
    "الباصات",
    "الخروج",
    "البيت",
    "السطح",
    "النافذة",
    "الشارع",
    "الجامع",
    "المعلمة",
    "الطلاب",
    "الامتحانات",
    "الحرب",
    "السلام",
    "الأخبار",
    "الصحفي",
    "المصور",
    "الصور",
    "أخي",
    "أمي",
    "الأطفال",
    "عائلة",
]
HARAKAT = "\u064e\u064f\u0650\u0652\u0651"


def pseudo_words(rng: random.Random, n: int, letters: str, lo: int, hi: int) -> list[str]:
    return ["".join(rng.choice(letters) for _ in range(rng.randint(lo, hi))) for _ in range(n)]


class Generator:
    def __init__(self, seed: int = 7):
        rng = random.Random(seed)
        self.rng = rng
        self.en = EN_COMMON + pseudo_words(rng, 20000, "abcdefghiklmnoprstuvwy", 4, 10)
        self.ar = AR_COMMON + pseudo_words(rng, 15000, "ابتثجحخدذرزسشصضطظعغفقكلمنهوي", 3, 7)
        self.en_w = list(itertools.accumulate(1 / (r + 1) ** 1.05 for r in range(len(self.en))))
        self.ar_w = list(itertools.accumulate(1 / (r + 1) ** 1.05 for r in range(len(self.ar))))

    def segment(self) -> tuple[str, str]:
        rng = self.rng
        n = rng.randint(8, 30)
        if rng.random() < 0.3:
            words = rng.choices(self.ar, cum_weights=self.ar_w, k=n)
            if rng.random() < 0.3:  # some harakat, as typed transcripts have
                i = rng.randrange(n)
                words[i] = "".join(c + (rng.choice(HARAKAT) if rng.random() < 0.5 else "") for c in words[i])
            return "ar", " ".join(words) + "."
        words = rng.choices(self.en, cum_weights=self.en_w, k=n)
        words[0] = words[0].capitalize()
        return "en", " ".join(words) + "."


def setup_django(data_dir: str, pg_url: str | None):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "true"
    os.environ["RAWI_DATA_DIR"] = data_dir
    os.environ["DATABASE_URL"] = f"sqlite:///{data_dir}/bench.sqlite3"
    import django
    from django.conf import settings

    if pg_url:
        from config.settings import database_from_url

        base = database_from_url(pg_url)
        settings.DATABASES["pg"] = {**base, "NAME": "rawi_bench"}
        settings.DATABASES["pg_admin"] = base
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def bench_meta(iid: int) -> dict:
    return {
        "collection": f"c{iid % 7}",
        "collection_title": f"Collection {iid % 7}",
        "title": f"Interview {iid}",
        "mode": ["phone", "whatsapp_voice", "email"][iid % 3],
        "recorded_on": f"{2012 + iid % 6}-0{1 + iid % 9}",
        "year": f"{2012 + iid % 6}",
        "languages": ["en", "ar"],
        "topics": ["siege", "prices"][: 1 + iid % 2],
        "narrators": ["Resident B"],
        "place": "Homs",
    }


def build_sqlite(gen: Generator, segments: int, per_interview: int) -> tuple[float, dict]:
    """Bulk build through the same functions as the transactional path (make_doc, sqlite_rows, meta_row)."""
    from django.db import connection

    from archive import search

    connection.ensure_connection()
    raw = connection.connection
    raw.execute("PRAGMA synchronous=OFF")
    doc_sql = search.SQLITE_DOC_INSERT.format(doc=search.doc_table("public"))
    fts_sql = search.SQLITE_FTS_INSERT.format(fts=search.fts_table("public"))
    with connection.cursor() as cursor:
        codes = search.lang_codes(cursor, ["en", "ar"])
    seen: dict[int, str] = {}
    texts = [gen.segment() for _ in range(segments)]
    started = time.perf_counter()
    # One transaction, as reindex has (Django's raw connection is in autocommit: row by row would commit
    # every row and make FTS5 flush a tiny segment each time).
    raw.execute("BEGIN")
    doc_chunk: list[tuple] = []
    fts_chunk: list[tuple] = []
    meta_rows: list[tuple] = []
    for first in range(0, segments, per_interview):
        interview = first // per_interview + 1
        seen[interview] = "bench"
        docs = [
            search.make_doc(i - first, i * 5.0, i * 5.0 + 4.0, language, "Narrator", text)
            for i, (language, text) in enumerate(texts[first : first + per_interview], start=first)
        ]
        doc_rows, fts_rows = search.sqlite_rows(interview, docs, codes)
        doc_chunk += doc_rows
        fts_chunk += fts_rows
        meta = bench_meta(interview)
        with connection.cursor() as cursor:
            profile = search.profile_id(cursor, meta)
        meta_rows.append(search.meta_row("public", interview, "bench", str(interview), meta, docs, profile))
        if len(doc_chunk) >= 20000:
            raw.executemany(doc_sql, doc_chunk)
            raw.executemany(fts_sql, fts_chunk)
            doc_chunk, fts_chunk = [], []
    raw.executemany(doc_sql, doc_chunk)
    raw.executemany(fts_sql, fts_chunk)
    raw.executemany(search.META_INSERT.replace("%s", "?"), meta_rows)
    raw.execute(f"UPDATE {search.VERSION_TABLE} SET version = ? WHERE tier = 'public'", (random.getrandbits(62) + 1,))
    raw.commit()
    return time.perf_counter() - started, {"public": seen}


def build_pg(texts_source: Generator, segments: int, per_interview: int) -> tuple[float, dict]:
    """Bulk build through the same functions as the transactional path (make_doc, pg_rows, meta_row): the
    documents and their search rows are copied in over two connections, the GIN index is made after."""
    import psycopg
    from django.core.management import call_command
    from django.db import connections

    from archive import search

    admin = connections["pg_admin"]
    admin.ensure_connection()
    admin.connection.autocommit = True
    with admin.connection.cursor() as c:
        c.execute("DROP DATABASE IF EXISTS rawi_bench")
        c.execute("CREATE DATABASE rawi_bench")
    # The whole schema (a search reads the renderings' tables too, for when chat messages were sent).
    call_command("migrate", database="pg", verbosity=0)
    pg = connections["pg"]
    doc, vec = search.doc_table("public"), search.vec_table("public")
    with pg.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {vec}_vec")
    pg.commit() if not pg.get_autocommit() else None
    raw = pg.connection
    settings = pg.settings_dict
    second = psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        dbname=settings["NAME"],
    )
    seen: dict[int, str] = {}
    texts = [texts_source.segment() for _ in range(segments)]
    started = time.perf_counter()
    interviews = range(1, (segments + per_interview - 1) // per_interview + 1)
    metas = {iid: bench_meta(iid) for iid in interviews}
    with raw.cursor() as cur:
        profiles = {iid: search.profile_id(cur, meta) for iid, meta in metas.items()}
    docs_of: dict[int, list] = {}
    blank = search.Doc(0, 0.0, 0.0, "", "", "", "", 0)
    with (
        raw.cursor() as cur,
        second.cursor() as cur2,
        cur.copy(f"COPY {doc} ({search.PG_DOC_COLUMNS}) FROM STDIN") as copy_docs,
        cur2.copy(f"COPY {vec} ({search.PG_VEC_COLUMNS}) FROM STDIN") as copy_vecs,
    ):
        for first in range(0, segments, per_interview):
            interview = first // per_interview + 1
            seen[interview] = "bench"
            docs = [
                search.make_doc(i - first, i * 5.0, i * 5.0 + 4.0, language, "Narrator", text)
                for i, (language, text) in enumerate(texts[first : first + per_interview], start=first)
            ]
            doc_rows, vec_rows = search.pg_rows(interview, docs, profiles[interview])
            for row in doc_rows:
                copy_docs.write_row(row)
            for row in vec_rows:
                copy_vecs.write_row(row)
            toks = sum(d.ntok + d.nbi for d in docs)  # all meta_row reads of the documents
            docs_of[interview] = [search.Doc(0, 0.0, 0.0, "", "", "", "", toks)] + [blank] * (len(docs) - 1)
    second.commit()
    second.close()
    with raw.cursor() as cur:
        cur.execute(f"CREATE INDEX {vec}_vec ON {vec} USING GIN (vec)")
        for iid in seen:
            row = search.meta_row("public", iid, "bench", str(iid), metas[iid], docs_of[iid], profiles[iid])
            cur.execute(search.META_INSERT, row)
        cur.execute(
            f"UPDATE {search.VERSION_TABLE} SET version = %s WHERE tier = 'public'", (random.getrandbits(62) + 1,)
        )
    raw.commit()
    autocommit = raw.autocommit
    raw.autocommit = True
    with raw.cursor() as cur:
        # What autovacuum does after a bulk load: statistics and the visibility map.
        for table in (doc, vec, "search_meta"):
            cur.execute(f"VACUUM ANALYZE {table}")
    raw.autocommit = autocommit
    return time.perf_counter() - started, {"public": seen}


def pg_sizes(connection) -> dict:
    """MiB on disk of the public tier's search tables, their indexes and out-of-line values."""
    from archive import search

    out = {}
    with connection.cursor() as cursor:
        for table in (search.doc_table("public"), search.vec_table("public")):
            cursor.execute(
                "SELECT pg_relation_size(c.oid), coalesce(pg_relation_size(c.reltoastrelid), 0), "
                "pg_indexes_size(c.oid), pg_total_relation_size(c.oid) FROM pg_class c WHERE c.relname = %s",
                [table],
            )
            row = cursor.fetchone()
            if row is None:
                continue
            cursor.execute(
                "SELECT i.relname, pg_relation_size(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = %s ORDER BY 1",
                [table],
            )
            out[table] = {
                "heap_mib": round(row[0] / 2**20, 1),
                "toast_mib": round(row[1] / 2**20, 1),
                "indexes_mib": {name: round(size / 2**20, 1) for name, size in cursor.fetchall()},
                "total_mib": round(row[3] / 2**20, 1),
            }
    return out


def queries(gen: Generator, n: int) -> dict[str, list[str]]:
    rng = random.Random(11)
    mid_en = gen.en[20:3000]
    mid_ar = gen.ar[20:2000]
    one = [rng.choice(mid_en if rng.random() < 0.7 else mid_ar) for _ in range(n)]
    two = [f"{rng.choice(mid_en[:150])} {rng.choice(mid_en[:600])}" for _ in range(n)]
    phrase = []
    while len(phrase) < n:
        _lang, text = gen.segment()
        words = text.rstrip(".").split()
        i = rng.randrange(len(words) - 1)
        phrase.append(f'"{words[i]} {words[i + 1]}"')
    return {"one_word": one, "two_words": two, "phrase": phrase}


def time_queries(seen: dict, sets: dict[str, list[str]], connection) -> dict:
    from archive import search

    out = {}
    for name, items in sets.items():
        search.run_search(seen, items[0], connection=connection)  # warm
        times, totals = [], []
        for q in items:
            t = time.perf_counter()
            r = search.run_search(seen, q, connection=connection)
            times.append((time.perf_counter() - t) * 1000)
            totals.append(r.total)
        out[name] = {
            "p50_ms": round(percentile(times, 50), 2),
            "p95_ms": round(percentile(times, 95), 2),
            "queries": len(items),
            "median_hits": int(statistics.median(totals)),
        }
    return out


def time_like(sets: dict[str, list[str]], connection, n: int) -> dict:
    from archive import search

    out = {}
    with connection.cursor() as cursor:
        for name, items in sets.items():
            times = []
            for q in items[:n]:
                words = q.strip('"').split()
                clause = " AND ".join(["body LIKE %s"] * len(words)) if name != "phrase" else "body LIKE %s"
                params = [f"%{w}%" for w in words] if name != "phrase" else [f"%{' '.join(words)}%"]
                t = time.perf_counter()
                cursor.execute(f"SELECT count(*) FROM {search.doc_table('public')} WHERE {clause}", params)
                cursor.fetchone()
                cursor.execute(f"SELECT id, text FROM {search.doc_table('public')} WHERE {clause} LIMIT 20", params)
                cursor.fetchall()
                times.append((time.perf_counter() - t) * 1000)
            out[name] = {
                "p50_ms": round(percentile(times, 50), 2),
                "p95_ms": round(percentile(times, 95), 2),
                "queries": len(times),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--per-interview", type=int, default=100)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--like-queries", type=int, default=5)
    parser.add_argument("--pg-url", default=os.environ.get("RAWI_PG_URL", ""))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    with tempfile.TemporaryDirectory(prefix="rawi-bench-") as data_dir:
        setup_django(data_dir, args.pg_url or None)
        from django.db import connections

        result: dict = {
            "segments": args.segments,
            "per_interview": args.per_interview,
            "cpus": os.cpu_count(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        }
        gen = Generator()
        sets = queries(gen, args.queries)
        if not args.no_sqlite:
            gen = Generator()
            build_s, seen = build_sqlite(gen, args.segments, args.per_interview)
            size = Path(data_dir, "bench.sqlite3").stat().st_size
            result["sqlite"] = {
                "build_seconds": round(build_s, 2),
                "build_segments_per_s": round(args.segments / build_s),
                "db_mib": round(size / 2**20, 1),
                "search": time_queries(seen, sets, connections["default"]),
                "like_scan": time_like(sets, connections["default"], args.like_queries),
            }
        if args.pg_url:
            gen = Generator()
            build_s, seen = build_pg(gen, args.segments, args.per_interview)
            result["postgresql"] = {
                "build_seconds": round(build_s, 2),
                "build_segments_per_s": round(args.segments / build_s),
                "sizes": pg_sizes(connections["pg"]),
                "search": time_queries(seen, sets, connections["pg"]),
                "like_scan": time_like(sets, connections["pg"], args.like_queries),
            }
        for backend in ("sqlite", "postgresql"):
            if backend in result:
                r = result[backend]
                r["like_to_index_p50_ratio"] = {
                    k: round(r["like_scan"][k]["p50_ms"] / max(r["search"][k]["p50_ms"], 0.01), 1) for k in r["search"]
                }
    result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
