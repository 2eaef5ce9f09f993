from django.urls import path

from . import auth, editing, views

app_name = "api"

urlpatterns = [
    path("auth/token/", auth.TokenView.as_view(), name="token"),
    path("auth/tokens/", auth.OwnTokenList.as_view(), name="token-list"),
    path("auth/tokens/<str:token_id>/", auth.OwnTokenDetail.as_view(), name="token-detail"),
    path("users/<str:username>/tokens/", auth.UserTokenList.as_view(), name="user-token-list"),
    path("users/<str:username>/tokens/<str:token_id>/", auth.UserTokenDetail.as_view(), name="user-token-detail"),
    path("users/<str:username>/second-factor/", auth.UserSecondFactor.as_view(), name="user-second-factor"),
    path("collections/", views.CollectionList.as_view(), name="collection-list"),
    path("collections/<slug:slug>/", views.CollectionDetail.as_view(), name="collection-detail"),
    path("interviews/", views.InterviewList.as_view(), name="interview-list"),
    path("interviews/<uuid:public_id>/", editing.InterviewDetail.as_view(), name="interview-detail"),
]

from . import exports as export_views  # noqa: E402 (export endpoints, added by the export helper)

urlpatterns += [
    path("interviews/<uuid:public_id>/export", export_views.InterviewExport.as_view(), name="interview-export"),
    path("interviews/<uuid:public_id>/audio", export_views.InterviewAudio.as_view(), name="interview-audio"),
]

from . import imports as import_views  # noqa: E402 (import uploads, added by the importers helper)

urlpatterns += [
    path("collections/<slug:slug>/imports/", import_views.ImportUpload.as_view(), name="collection-imports"),
]

from . import search as search_api  # noqa: E402 (search, added by the search work)

urlpatterns += [
    path("search/", search_api.SearchView.as_view(), name="search"),
    path("search/suggest/", search_api.SuggestView.as_view(), name="search-suggest"),
]

from . import redactions as redaction_views  # noqa: E402 (editors' redaction endpoints, added by the workbench work)

urlpatterns += [
    path(
        "interviews/<uuid:public_id>/redactions/",
        redaction_views.InterviewRedactions.as_view(),
        name="interview-redactions",
    ),
    path(
        "interviews/<uuid:public_id>/redactions/decide/",
        redaction_views.InterviewRedactionsDecide.as_view(),
        name="interview-redactions-decide",
    ),
    path(
        "interviews/<uuid:public_id>/redactions/suggest/",
        redaction_views.InterviewRedactionsSuggest.as_view(),
        name="interview-redactions-suggest",
    ),
]

from . import upload as upload_views  # noqa: E402 (resumable recording upload and job status, transcription work)

urlpatterns += [
    path("interviews/<uuid:public_id>/uploads/", upload_views.UploadCreate.as_view(), name="upload-create"),
    path("uploads/<uuid:upload_id>/", upload_views.UploadChunk.as_view(), name="upload-chunk"),
    path("jobs/<uuid:job_id>/", upload_views.JobStatus.as_view(), name="job-status"),
    path(
        "interviews/<uuid:public_id>/retranscribe",
        upload_views.Retranscribe.as_view(),
        name="interview-retranscribe",
    ),
]

from . import access_requests as access_request_views  # noqa: E402 (editors' and custodians' daily work)

urlpatterns += [
    path("interviews/<uuid:public_id>/status", editing.InterviewStatus.as_view(), name="interview-status"),
    path("interviews/<uuid:public_id>/narrators/", editing.InterviewNarrators.as_view(), name="interview-narrators"),
    path(
        "interviews/<uuid:public_id>/narrators/<str:reference>/",
        editing.InterviewNarrator.as_view(),
        name="interview-narrator",
    ),
    path("redactions/<uuid:redaction_id>", editing.RedactionDetail.as_view(), name="redaction-detail"),
    path("access-requests/", access_request_views.AccessRequestList.as_view(), name="access-request-list"),
    path(
        "access-requests/<uuid:request_id>/decision",
        access_request_views.AccessRequestDecision.as_view(),
        name="access-request-decision",
    ),
]
