"""The archive's URL map: the JSON API under /api/v1/ (namespace `api`, archive/api/urls.py) and the
server-rendered pages everywhere else (namespace `archive`, archive/web/urls.py). The two are siblings
that do not import each other."""

from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("archive.api.urls")),
    path("", include("archive.web.urls")),
]
