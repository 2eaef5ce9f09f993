"""The daily work's pages, included under /manage/ by archive/urls.py (names in the archive namespace)."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from . import manage

urlpatterns = [
    path("", manage.dashboard, name="manage_dashboard"),
    path("interviews/<uuid:public_id>/", manage.interview_manage, name="manage_interview"),
    path("interviews/<uuid:public_id>/status/", manage.interview_status, name="manage_interview_status"),
    path(
        "interviews/<uuid:public_id>/narrators/<str:reference>/", manage.narrator_manage, name="manage_narrator"
    ),
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
