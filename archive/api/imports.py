"""POST /api/v1/collections/<slug>/imports/: upload a WhatsApp, Messenger/Instagram, Skype or Telegram
export, email, transcript or bulk zip.

Multipart fields: file (required), title, narrator (real name, stored encrypted), anonymity, access,
language, interviewer (the chat/email label of the interviewer), narrator_label (the narrator's sender
label in a WhatsApp chat, an email thread or a Messenger, Skype or Telegram export). 201 with the new
interviews' ids (one per conversation), 400 with the importer's reason for refused input (code
"narrator_unknown" with the `senders` to choose narrator_label from when neither the labels given nor
the export say who the narrator is: it is never guessed, and nothing is created; for a bulk zip, with
the `row` of the metadata CSV whose chat or thread it is and that row's `senders`), 404 for
collections the user may not upload to. Voice notes are stored and queued (not transcribed during the
request). The uploader becomes the interviewer of a Messenger, Skype or Telegram import.
"""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ..importers import ImportRefused, NarratorUnknown, RowNarratorUnknown
from ..models import Narrator, Tier
from ..services.imports import import_uploaded


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    title = serializers.CharField(max_length=300)
    narrator = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    anonymity = serializers.ChoiceField(choices=Narrator.Anonymity.values, default=Narrator.Anonymity.ANONYMOUS)
    access = serializers.ChoiceField(choices=Tier.values, default=Tier.STAFF)
    language = serializers.RegexField(r"^[a-z]{2,3}$", required=False, allow_blank=True, default="")
    interviewer = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    narrator_label = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ImportUpload(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]
    serializer_class = ImportUploadSerializer

    def post(self, request, slug: str):
        serializer = ImportUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            ids = import_uploaded(user=request.user, slug=slug, data=serializer.validated_data)
        except NarratorUnknown as exc:
            return Response(
                {"error": exc.reason, "code": exc.code, "senders": exc.senders}, status=status.HTTP_400_BAD_REQUEST
            )
        except RowNarratorUnknown as exc:
            body = {"error": exc.reason, "code": exc.code, "row": exc.row, "senders": exc.senders}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        except ImportRefused as exc:
            return Response({"error": exc.reason, "code": exc.code}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"interviews": ids}, status=status.HTTP_201_CREATED)
