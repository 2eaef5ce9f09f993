from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "archive"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("collections/", views.collection_list, name="collection_list"),
    path("collections/<slug:slug>/", views.collection_detail, name="collection_detail"),
    path("interviews/", views.interview_list, name="interview_list"),
    path("interviews/<uuid:public_id>/", views.interview_detail, name="interview_detail"),
]

from . import views_export  # noqa: E402 (export dialog, added by the export helper)

urlpatterns += [
    path("interviews/<uuid:public_id>/export/", views_export.export_dialog, name="interview_export"),
]
