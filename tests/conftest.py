"""Shared fixtures: the demo archive, a small cast of users by role, and clients signed in as them."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from archive.management.commands.seed_demo import SEED_FILE, seed
from archive.models import Collection, Interview

# Asserts in the shared builders (assert_stored_equals_fresh) report the values they compare, as a test's do.
pytest.register_assert_rewrite("tests.builders")

ROLES = ("custodian", "editor", "archivist", "fieldresearcher", "researcher")


@dataclass
class Demo:
    data: dict
    collection: Collection
    interviews: dict[str, Interview] = field(default_factory=dict)

    def user(self, username: str) -> User:
        return User.objects.get(username=username)

    def interview(self, key: str) -> Interview:
        return self.interviews[key]


def load_demo() -> Demo:
    data = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    if not Collection.objects.filter(slug=data["collection"]["slug"]).exists():
        seed(data)
    collection = Collection.objects.get(slug=data["collection"]["slug"])
    interviews = {
        item["key"]: Interview.objects.get(collection=collection, title=item["title"]) for item in data["interviews"]
    }
    return Demo(data=data, collection=collection, interviews=interviews)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Seed the demo once per session; each test's transaction rolls back to it. Tests that flush
    the database (transaction=True) get it re-seeded by the `demo` fixture."""
    with django_db_blocker.unblock():
        load_demo()


@pytest.fixture
def demo(db) -> Demo:
    return load_demo()


@pytest.fixture
def client_as(demo):
    """client_as("researcher") → a test client signed in as that demo user (None → signed out)."""

    def make(username: str | None) -> Client:
        client = Client()
        if username:
            client.force_login(User.objects.get(username=username))
        return client

    return make


@pytest.fixture
def outsider(db) -> User:
    """Charlie: signed in, no membership anywhere."""
    return User.objects.create_user(username="charlie", password="charlie-password-123")


@pytest.fixture(autouse=True)
def _isolated_data_dir(settings_dir_guard):
    yield


@pytest.fixture(autouse=True)
def _own_audit_checkpoints(settings, tmp_path):
    # Checkpoints anchor one database's audit chain; each test's database is rolled back or flushed.
    settings.RAWI_AUDIT_CHECKPOINT_FILE = tmp_path / "audit-checkpoints.log"


@pytest.fixture(scope="session")
def settings_dir_guard():
    # Tests never write to the project's ./data directory.
    assert "rawi-test-" in str(settings.DATA_DIR) or settings.DATA_DIR != settings.BASE_DIR / "data"
    yield


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    """A real headless Debian Chromium driven by Playwright (no browser download)."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(executable):
        pytest.fail("Debian chromium is required for browser tests (apt-get install chromium)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, settings):
    # The browser tests sign the demo's accounts in with passwords alone, as `make run`'s demo does.
    settings.RAWI_REQUIRE_TOTP = False
    context = chromium.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
