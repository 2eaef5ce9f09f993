"""Lists of interviews and collections: sorted, filtered and cut into pages.

Everything a list shows, sorts or filters on comes from each interview's rendering at the reader's tier
(its title, its date at the tier's precision, status, mode and languages), so the order of a list never
tells what a lower tier may not see; only "date added" reads the row, and it is never shown. The
filters offer only the values found among what the reader may see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from ..gate import Rendering, renderings_for
from ..gate import policy as access
from ..models import Collection, Interview
from ..templatetags.rawi import code_label

PAGE_SIZE = 20

SORTS = (
    ("-recorded", _("Date recorded, newest first")),
    ("recorded", _("Date recorded, oldest first")),
    ("title", _("Title, A to Z")),
    ("-title", _("Title, Z to A")),
    ("-added", _("Date added, newest first")),
    ("added", _("Date added, oldest first")),
)


@dataclass(frozen=True)
class Listed:
    """One interview as a list shows it: its rendering at the reader's tier, and when it was added."""

    rendering: Rendering
    added: datetime


def listed_interviews(user, queryset: QuerySet | None = None) -> list[Listed]:
    """Every interview the user may see, each as its rendering at their tier (none stale)."""
    return listed(access.visible_interviews(user, queryset))


def listed(visible: list[tuple[Interview, str]]) -> list[Listed]:
    """Interviews with the tier the user sees each at (from access.visible_interviews), as a list shows them."""
    return [Listed(rendering, interview.created_at) for interview, rendering in renderings_for(visible)]


class ListForm(forms.Form):
    """The sort and filters of a list (a GET form: every choice is a link that can be shared)."""

    sort = forms.ChoiceField(label=_("Sort by"), choices=SORTS, required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    mode = forms.ChoiceField(label=_("Mode"), required=False)
    language = forms.ChoiceField(label=_("Language"), required=False)

    def __init__(self, data: QueryDict, items: Iterable[Listed], *, prefix_id: str = "list"):
        # Unbound, showing the valid choices made: an unknown value is ignored, never an error.
        super().__init__(auto_id=f"{prefix_id}-%s")
        items = list(items)
        found = {
            "status": {i.rendering.status for i in items if i.rendering.status},
            "mode": {i.rendering.mode for i in items if i.rendering.mode},
            "language": {code for i in items for code in i.rendering.languages},
        }
        for name, codes in found.items():
            choices = sorted(((code, code_label(code, name)) for code in codes), key=lambda pair: pair[1].casefold())
            self.fields[name].choices = [("", _("Any")), *choices]
        self.chosen = {
            name: value if (value := data.get(name, "")) in dict(field.choices) else ""
            for name, field in self.fields.items()
        }
        self.initial = dict(self.chosen)

    def choice(self, name: str) -> str:
        """The valid choice for `name`, "" when none."""
        return self.chosen[name]

    @property
    def active(self) -> bool:
        return any(self.chosen[name] for name in ("status", "mode", "language"))


def matches(item: Listed, form: ListForm) -> bool:
    rendering = item.rendering
    status, mode, language = form.choice("status"), form.choice("mode"), form.choice("language")
    return (
        (not status or rendering.status == status)
        and (not mode or rendering.mode == mode)
        and (not language or language in rendering.languages)
    )


def _title_key(title: str) -> str:
    return title.casefold()


def sort_interviews(items: list[Listed], sort: str) -> list[Listed]:
    """In the order chosen; ties and undated interviews fall back to the title (undated last)."""
    by_title = sorted(items, key=lambda i: _title_key(i.rendering.title))
    key = sort.lstrip("-") or "recorded"
    reverse = sort.startswith("-") or not sort
    if key == "title":
        return by_title[::-1] if reverse else by_title
    if key == "added":
        return sorted(by_title, key=lambda i: i.added, reverse=reverse)
    dated = [i for i in by_title if i.rendering.recorded_on]
    undated = [i for i in by_title if not i.rendering.recorded_on]
    return sorted(dated, key=lambda i: i.rendering.recorded_on, reverse=reverse) + undated


def page_of(items: list, data: QueryDict) -> Page:
    return Paginator(items, PAGE_SIZE).get_page(data.get("page"))


def query_without_empty(data: QueryDict) -> str | None:
    """The query string without the empty fields a GET form sends along with the chosen ones
    (`?sort=title&status=&language=`), or None when it has none: the lists redirect there, so an
    address holds only what was chosen even without the script that leaves them out (list_controls.js)."""
    kept = [(name, value) for name, values in data.lists() for value in values if value != ""]
    if len(kept) == sum(len(values) for _name, values in data.lists()):
        return None
    return urlencode(kept)


def query_without_page(form: ListForm) -> str:
    """The list's query string for the page links: only the choices made and valid, never an empty
    field or a value the form ignored, in the form's order."""
    return urlencode([(name, value) for name, value in form.chosen.items() if value])


def interview_listing(data: QueryDict, items: list[Listed]) -> dict:
    """The template context of a list of interviews: the form, the page, the count and the links."""
    form = ListForm(data, items)
    chosen = [i for i in items if matches(i, form)]
    page = page_of(sort_interviews(chosen, form.choice("sort")), data)
    return {
        "list_form": form,
        "page_obj": page,
        "interviews": [i.rendering for i in page.object_list],
        "total": len(chosen),
        "query": query_without_page(form),
    }


@dataclass(frozen=True)
class CollectionRow:
    collection: Collection
    count: int  # the interviews the reader may see in it that match the filters
    latest: str  # the latest date recorded among them, at the tier's precision ("" when none)


def collection_listing(data: QueryDict, user) -> dict:
    """The template context of the list of collections: each with how many of the interviews the reader
    may see match the filters; sorted by title, date added or latest date recorded."""
    items = listed_interviews(user)
    form = ListForm(data, items)
    by_slug: dict[str, list[Listed]] = {}
    for item in items:
        if matches(item, form):
            by_slug.setdefault(item.rendering.collection_slug, []).append(item)
    rows = []
    for collection, _count in access.visible_collections(user):
        chosen = by_slug.get(collection.slug, [])
        if form.active and not chosen:
            continue
        dates = [i.rendering.recorded_on for i in chosen if i.rendering.recorded_on]
        rows.append(CollectionRow(collection, len(chosen), max(dates, default="")))
    sort = form.choice("sort")
    key = sort.lstrip("-") or "recorded"
    reverse = sort.startswith("-") or not sort
    rows.sort(key=lambda r: r.collection.title.casefold())
    if key == "title":
        if reverse:
            rows.reverse()
    elif key == "added":
        rows.sort(key=lambda r: r.collection.created_at, reverse=reverse)
    else:
        dated = sorted((r for r in rows if r.latest), key=lambda r: r.latest, reverse=reverse)
        rows = dated + [r for r in rows if not r.latest]
    page = page_of(rows, data)
    return {
        "list_form": form,
        "page_obj": page,
        "collections": [(r.collection, r.count) for r in page.object_list],
        "total": len(rows),
        "query": query_without_page(form),
    }
