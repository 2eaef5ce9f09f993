"""The read API: token and session auth, the caller's rendering, schema and offline docs."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from knox.crypto import hash_token
from knox.models import AuthToken

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_it_lists_only_public_interviews_signed_out(demo, client_as):
    body = client_as(None).get("/api/v1/interviews/").json()
    titles = {item["title"] for item in body["results"]}
    assert body["count"] == 4
    assert "A media activist on escalation after each round of talks" not in titles
    assert all(item["tier"] == "public" for item in body["results"])


def test_it_serves_the_callers_rendering_with_a_token(demo, client_as):
    _row, token = AuthToken.objects.create(user=demo.user("researcher"))
    interview = demo.interview("skype-activist")
    client = client_as(None)
    assert client.get(f"/api/v1/interviews/{interview.public_id}/").status_code == 404
    response = client.get(f"/api/v1/interviews/{interview.public_id}/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    body = response.json()
    assert body["tier"] == "researcher"
    assert body["narrators"] == [
        {
            "public_id": body["narrators"][0]["public_id"],
            "display_name": "a media activist in the district",
            "anonymity": "anonymous",
        }
    ]
    texts = [segment["text"] for segment in body["segments"]]
    assert (
        "In May the negotiators were held at a checkpoint for hours. [name withheld] was among them, and after that the whole process froze."
        in texts
    )
    assert "You can reach me on a media activist in the district if the line drops, but only on WhatsApp." in texts


def test_it_obtains_a_token_with_username_and_password(demo, client_as):
    response = client_as(None).post(
        "/api/v1/auth/token/", {"username": "researcher", "password": "rawi-demo-researcher"}
    )
    assert response.status_code == 200
    # Only a digest is stored.
    assert AuthToken.objects.get(user__username="researcher").digest == hash_token(response.json()["token"])


def test_it_publishes_a_schema_and_offline_docs(demo, client_as):
    client = client_as(None)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/interviews/{public_id}/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "https://" not in html.replace("https://swagger.io", "")


def test_it_has_no_missing_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_it_lists_collections_with_visible_counts(demo, client_as):
    public = client_as(None).get("/api/v1/collections/").json()["results"]
    staff = client_as("editor").get("/api/v1/collections/").json()["results"]
    assert [(c["slug"], c["interview_count"]) for c in public] == [("waer-remote-testimony", 4)]
    assert [(c["slug"], c["interview_count"]) for c in staff] == [("waer-remote-testimony", 7)]
