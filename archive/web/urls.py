"""The pages' URL map: one urlpatterns of groups, every name in the `archive` namespace.

Each group is the pages of one area (archive/web/<area>.py); the paths and names are interfaces
(DESIGN §8) and do not change when a group moves. The API's map is archive/api/urls.py; both are
included by archive/urls.py.
"""

from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from . import audit, auth, consent, exports, imports, manage, oai, pages, search, transcript, upload, workbench

app_name = "archive"

# Browsing: the home page, collections and interviews as the visitor's tier shows them.
browse = [
    path("", pages.home, name="home"),
    path("collections/", pages.collection_list, name="collection_list"),
    path("collections/<slug:slug>/", pages.collection_detail, name="collection_detail"),
    path("interviews/", pages.interview_list, name="interview_list"),
    path("interviews/<uuid:public_id>/", pages.interview_detail, name="interview_detail"),
    path("interviews/<uuid:public_id>/export/", exports.export_dialog, name="interview_export"),
    path("search/", search.search_page, name="search"),
    path("search/suggest/", search.suggest_view, name="search_suggest"),
]

# Signing in (throttled, a second factor for staff) and enrolling a second factor.
signing_in = [
    path("login/", auth.login_view, name="login"),
    path("login/verify/", auth.login_verify, name="login_verify"),
    path("login/enrol/", auth.login_enrol, name="login_enrol"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/second-factor/", auth.totp_enrol, name="totp_enrol"),
]

# Adding material to a collection: chat and mail exports, recordings.
intake = [
    path("import/", imports.import_upload, name="collection_import"),
    path("upload/", upload.recording_upload, name="collection_upload"),
]

# The redaction workbench of one interview.
redacting = [
    path("", workbench.workbench, name="workbench"),
    path("redact/", workbench.workbench_redact, name="workbench_redact"),
    path("decide/", workbench.workbench_decide, name="workbench_decide"),
    path("suggest/", workbench.workbench_suggest, name="workbench_suggest"),
    path("held/", workbench.workbench_resolve_held, name="workbench_held"),
]

# Correcting one interview's transcript and transcribing it again.
transcribing = [
    path("transcript/", transcript.transcript_edit, name="transcript_edit"),
    path("retranscribe/", transcript.retranscribe_view, name="interview_retranscribe"),
    path("transcript/<int:index>/", transcript.segment_correct_view, name="segment_correct"),
    path("transcript/<int:index>/speaker/", transcript.segment_speaker_view, name="segment_speaker"),
]

# One interview's consent ledger.
consenting = [
    path("", consent.consent_ledger, name="consent_ledger"),
    path("<uuid:narrator_id>/", consent.consent_edit, name="consent_edit"),
    path("<uuid:narrator_id>/withdraw/", consent.consent_withdraw, name="consent_withdraw"),
    path("forms/<int:version_id>/", consent.consent_form_download, name="consent_form_download"),
]

# The audit trail and its alerts.
auditing = [
    path("", audit.audit_events, name="audit_events"),
    path("alerts/", audit.alert_list, name="audit_alerts"),
    path("alerts/<int:alert_id>/resolve/", audit.alert_resolve, name="audit_alert_resolve"),
]

# The daily work under /manage/: interviews, narrators, plans, access requests and users.
managing = [
    path("", manage.dashboard, name="manage_dashboard"),
    path("interviews/<uuid:public_id>/", manage.interview_manage, name="manage_interview"),
    path("interviews/<uuid:public_id>/status/", manage.interview_status, name="manage_interview_status"),
    path("interviews/<uuid:public_id>/narrators/<str:reference>/", manage.narrator_manage, name="manage_narrator"),
    path(
        "interviews/<uuid:public_id>/redactions/<uuid:redaction_id>/revoke/",
        manage.redaction_revoke_view,
        name="manage_redaction_revoke",
    ),
    path("interviews/<uuid:public_id>/plan/", manage.plan_edit, name="manage_plan"),
    path("interviews/<uuid:public_id>/delete/", manage.interview_delete, name="manage_interview_delete"),
    path("interviews/<uuid:public_id>/request-access/", manage.access_request_new, name="manage_access_request_new"),
    path("collections/<slug:slug>/plan/", manage.plan_new, name="manage_plan_new"),
    path("access-requests/", manage.access_requests, name="manage_access_requests"),
    path(
        "access-requests/<uuid:request_id>/decision/",
        manage.access_request_decision,
        name="manage_access_request_decision",
    ),
    path("users/", manage.users, name="manage_users"),
    path("users/<str:username>/", manage.user_action, name="manage_user"),
    path(
        "set-password/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="archive/manage/set_password.html", success_url=reverse_lazy("archive:login")
        ),
        name="manage_set_password",
    ),
]

# OAI-PMH 2.0 for harvesters (GET and POST on one endpoint).
harvesting = [path("", oai.endpoint, name="oai")]

urlpatterns = [
    path("", include(browse)),
    path("", include(signing_in)),
    path("collections/<slug:slug>/", include(intake)),
    path("interviews/<uuid:public_id>/workbench/", include(redacting)),
    path("interviews/<uuid:public_id>/", include(transcribing)),
    path("interviews/<uuid:public_id>/consent/", include(consenting)),
    path("consent/reviews/", consent.consent_reviews, name="consent_reviews"),
    path("audit/", include(auditing)),
    path("manage/", include(managing)),
    path("oai", include(harvesting)),
]
