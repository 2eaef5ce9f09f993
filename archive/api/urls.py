"""The JSON API's URL map under /api/v1/ (namespace `api`): one urlpatterns of groups. Paths and names
are interfaces (DESIGN §8)."""

from django.urls import include, path

from . import access_requests, auth, editing, exports, imports, redactions, search, upload, views

app_name = "api"

# Tokens and second factors.
accounts = [
    path("auth/token/", auth.TokenView.as_view(), name="token"),
    path("auth/tokens/", auth.OwnTokenList.as_view(), name="token-list"),
    path("auth/tokens/<str:token_id>/", auth.OwnTokenDetail.as_view(), name="token-detail"),
    path("users/<str:username>/tokens/", auth.UserTokenList.as_view(), name="user-token-list"),
    path("users/<str:username>/tokens/<str:token_id>/", auth.UserTokenDetail.as_view(), name="user-token-detail"),
    path("users/<str:username>/second-factor/", auth.UserSecondFactor.as_view(), name="user-second-factor"),
]

# Collections and interviews as the caller's tier shows them, search, exports and audio.
reading = [
    path("collections/", views.CollectionList.as_view(), name="collection-list"),
    path("collections/<slug:slug>/", views.CollectionDetail.as_view(), name="collection-detail"),
    path("interviews/", views.InterviewList.as_view(), name="interview-list"),
    path("interviews/<uuid:public_id>/", editing.InterviewDetail.as_view(), name="interview-detail"),
    path("interviews/<uuid:public_id>/export", exports.InterviewExport.as_view(), name="interview-export"),
    path("interviews/<uuid:public_id>/audio", exports.InterviewAudio.as_view(), name="interview-audio"),
    path("search/", search.SearchView.as_view(), name="search"),
    path("search/suggest/", search.SuggestView.as_view(), name="search-suggest"),
]

# Adding material: chat and mail imports, resumable recording uploads, transcription jobs.
intake = [
    path("collections/<slug:slug>/imports/", imports.ImportUpload.as_view(), name="collection-imports"),
    path("interviews/<uuid:public_id>/uploads/", upload.UploadCreate.as_view(), name="upload-create"),
    path("uploads/<uuid:upload_id>/", upload.UploadChunk.as_view(), name="upload-chunk"),
    path("jobs/<uuid:job_id>/", upload.JobStatus.as_view(), name="job-status"),
    path("interviews/<uuid:public_id>/retranscribe", upload.Retranscribe.as_view(), name="interview-retranscribe"),
]

# Editors' redactions of one interview.
redacting = [
    path("", redactions.InterviewRedactions.as_view(), name="interview-redactions"),
    path("decide/", redactions.InterviewRedactionsDecide.as_view(), name="interview-redactions-decide"),
    path("suggest/", redactions.InterviewRedactionsSuggest.as_view(), name="interview-redactions-suggest"),
]

# Editors' and custodians' daily work: status, narrators, revoking redactions, access requests.
managing = [
    path("interviews/<uuid:public_id>/status", editing.InterviewStatus.as_view(), name="interview-status"),
    path("interviews/<uuid:public_id>/narrators/", editing.InterviewNarrators.as_view(), name="interview-narrators"),
    path(
        "interviews/<uuid:public_id>/narrators/<str:reference>/",
        editing.InterviewNarrator.as_view(),
        name="interview-narrator",
    ),
    path("redactions/<uuid:redaction_id>", editing.RedactionDetail.as_view(), name="redaction-detail"),
    path("access-requests/", access_requests.AccessRequestList.as_view(), name="access-request-list"),
    path(
        "access-requests/<uuid:request_id>/decision",
        access_requests.AccessRequestDecision.as_view(),
        name="access-request-decision",
    ),
]

urlpatterns = [
    path("", include(accounts)),
    path("", include(reading)),
    path("", include(intake)),
    path("interviews/<uuid:public_id>/redactions/", include(redacting)),
    path("", include(managing)),
]
