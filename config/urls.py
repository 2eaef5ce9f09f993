from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the interface language switch
    # The messages of the static scripts in the interface language (djangojs catalogue), as a script of
    # this origin: the CSP allows no inline script.
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["archive"]), name="javascript-catalog"),
    path("", include("archive.urls")),  # the API (/api/v1/) and the pages
]

handler404 = "archive.web.pages.not_found"
handler500 = "archive.web.pages.server_error"
