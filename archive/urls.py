from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views, views_auth, views_workbench

app_name = "archive"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views_auth.login_view, name="login"),  # throttled, TOTP for staff (views_auth)
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("collections/", views.collection_list, name="collection_list"),
    path("collections/<slug:slug>/", views.collection_detail, name="collection_detail"),
    path("interviews/", views.interview_list, name="interview_list"),
    path("interviews/<uuid:public_id>/", views.interview_detail, name="interview_detail"),
    path("interviews/<uuid:public_id>/workbench/", views_workbench.workbench, name="workbench"),
    path("interviews/<uuid:public_id>/workbench/redact/", views_workbench.workbench_redact, name="workbench_redact"),
    path("interviews/<uuid:public_id>/workbench/decide/", views_workbench.workbench_decide, name="workbench_decide"),
    path("interviews/<uuid:public_id>/workbench/suggest/", views_workbench.workbench_suggest, name="workbench_suggest"),
    path("interviews/<uuid:public_id>/workbench/held/", views_workbench.workbench_resolve_held, name="workbench_held"),
]

from . import views_export  # noqa: E402 (export dialog, added by the export helper)

urlpatterns += [
    path("interviews/<uuid:public_id>/export/", views_export.export_dialog, name="interview_export"),
]

from . import views_import  # noqa: E402 (import upload form, added by the importers helper)

urlpatterns += [
    path("collections/<slug:slug>/import/", views_import.import_upload, name="collection_import"),
]

from . import views_search  # noqa: E402 (search, added by the search work)

urlpatterns += [
    path("search/", views_search.search_page, name="search"),
    path("search/suggest/", views_search.suggest_view, name="search_suggest"),
]

from . import views_audit, views_consent  # noqa: E402 (consent ledger, audit trail, second factor)

urlpatterns += [
    path("login/verify/", views_auth.login_verify, name="login_verify"),
    path("login/enrol/", views_auth.login_enrol, name="login_enrol"),
    path("account/second-factor/", views_auth.totp_enrol, name="totp_enrol"),
    path("interviews/<uuid:public_id>/consent/", views_consent.consent_ledger, name="consent_ledger"),
    path("interviews/<uuid:public_id>/consent/<uuid:narrator_id>/", views_consent.consent_edit, name="consent_edit"),
    path(
        "interviews/<uuid:public_id>/consent/<uuid:narrator_id>/withdraw/",
        views_consent.consent_withdraw,
        name="consent_withdraw",
    ),
    path(
        "interviews/<uuid:public_id>/consent/forms/<int:version_id>/",
        views_consent.consent_form_download,
        name="consent_form_download",
    ),
    path("consent/reviews/", views_consent.consent_reviews, name="consent_reviews"),
    path("audit/", views_audit.audit_events, name="audit_events"),
    path("audit/alerts/", views_audit.alert_list, name="audit_alerts"),
    path("audit/alerts/<int:alert_id>/resolve/", views_audit.alert_resolve, name="audit_alert_resolve"),
]

from . import views_transcript, views_upload  # noqa: E402 (recording upload and transcript editing, transcription work)

urlpatterns += [
    path("collections/<slug:slug>/upload/", views_upload.recording_upload, name="collection_upload"),
    path("interviews/<uuid:public_id>/transcript/", views_transcript.transcript_edit, name="transcript_edit"),
    path(
        "interviews/<uuid:public_id>/retranscribe/", views_transcript.retranscribe_view, name="interview_retranscribe"
    ),
    path(
        "interviews/<uuid:public_id>/transcript/<int:index>/",
        views_transcript.segment_correct_view,
        name="segment_correct",
    ),
    path(
        "interviews/<uuid:public_id>/transcript/<int:index>/speaker/",
        views_transcript.segment_speaker_view,
        name="segment_speaker",
    ),
]

urlpatterns += [path("manage/", include("archive.web.urls_manage"))]  # the daily work (archive/web/manage.py)
urlpatterns += [path("oai", include("archive.web.oai"))]  # OAI-PMH 2.0 for harvesters (archive/web/oai.py)
