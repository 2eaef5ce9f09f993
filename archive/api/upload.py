"""Resumable recording upload (a small tus-like protocol) and transcription job status.

1. ``POST interviews/<id>/uploads/`` with JSON ``{"size": N, "filename": "…"}`` → ``{"upload": id, "offset": 0}``
2. ``PATCH uploads/<id>/`` with header ``Upload-Offset: k`` and the next bytes as the body → ``{"offset": k'}``;
   a wrong offset answers 409 with the server's offset, so a client resumes after a dropped connection.
3. ``GET uploads/<id>/`` → ``{"offset", "size"}``. When the last byte arrives, the file is streamed into
   storage (SHA-256 on the way), the recording and its job are created: ``{"recording", "job"}``.
4. ``GET jobs/<id>/`` → ``{"state", "progress", "reason"}``.

Bodies are read in 64 KiB blocks, so the web process holds constant memory whatever the file's size.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ..gate import policy as access
from ..models import Recording, TranscriptionJob
from ..services.recordings import RecordingRefused, interview_retranscribe, recording_add

BLOCK = 64 * 1024


def _uploads_dir() -> Path:
    path = Path(settings.DATA_DIR) / "uploads"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _load(upload_id: str, user) -> tuple[dict, Path]:
    try:
        key = uuid.UUID(str(upload_id)).hex
    except ValueError:
        raise Http404 from None
    meta_path = _uploads_dir() / f"{key}.json"
    if not meta_path.exists():
        raise Http404
    meta = json.loads(meta_path.read_text())
    if meta["user"] != user.pk:
        raise Http404
    return meta, _uploads_dir() / f"{key}.part"


def _job_options(data) -> dict:
    """Transcription options from the upload request; anything unexpected falls back to detection."""
    language = data.get("language")
    per_channel = data.get("per_channel")
    return {
        "language": language if isinstance(language, str) and re.fullmatch(r"[a-z]{2,3}", language) else None,
        "multilingual": data.get("multilingual") is True,
        "per_channel": per_channel if per_channel in (True, False) else None,
    }


_OFFSET = inline_serializer("UploadOffset", {"offset": serializers.IntegerField(), "size": serializers.IntegerField()})
_STARTED = inline_serializer(
    "UploadStarted",
    {"upload": serializers.UUIDField(), "offset": serializers.IntegerField(), "size": serializers.IntegerField()},
)
_FINISHED = inline_serializer(
    "UploadFinished",
    {
        "offset": serializers.IntegerField(),
        "size": serializers.IntegerField(),
        "recording": serializers.UUIDField(),
        "job": serializers.UUIDField(),
    },
)
_DETAIL = inline_serializer("UploadError", {"detail": serializers.CharField()})


class UploadCreate(APIView):
    @extend_schema(
        request=inline_serializer(
            "UploadCreate",
            {
                "size": serializers.IntegerField(help_text="the file's length in bytes"),
                "filename": serializers.CharField(required=False, help_text="kept sealed for custodians"),
                "language": serializers.CharField(required=False, help_text="ISO 639 code; detected if absent"),
                "multilingual": serializers.BooleanField(required=False),
                "per_channel": serializers.BooleanField(required=False, allow_null=True),
                "replaces": serializers.UUIDField(
                    required=False,
                    help_text="the recording this file replaces (a better copy of the same speech); "
                    "without it the file is a new part that follows the interview's other parts",
                ),
            },
        ),
        responses={201: _STARTED, 400: _DETAIL, 404: None},
    )
    def post(self, request, public_id):
        interview, _tier = access.interview_for(request.user, public_id)
        # Adding media changes the transcript: edit rights on this interview, not only visibility.
        if not access.can_edit(request.user, interview):
            raise Http404
        replaces = ""
        if request.data.get("replaces"):
            try:
                replaced = Recording.objects.get(public_id=str(request.data.get("replaces")), interview=interview)
            except (Recording.DoesNotExist, ValueError, ValidationError):
                return Response({"detail": "replaces must name a recording of this interview."}, status=400)
            if replaced.replaced_by_id is not None:
                return Response({"detail": "That recording has already been replaced."}, status=400)
            replaces = str(replaced.public_id)
        try:
            size = int(request.data.get("size"))
        except (TypeError, ValueError):
            return Response({"detail": "size must be the file's length in bytes."}, status=400)
        if size <= 0 or size > settings.RAWI_MAX_UPLOAD_BYTES:
            return Response({"detail": "The file is empty or larger than this archive accepts."}, status=400)
        key = uuid.uuid4()
        meta = {
            "interview": str(interview.public_id),
            "user": request.user.pk,
            "size": size,
            "filename": str(request.data.get("filename", ""))[:255],
            "options": _job_options(request.data),
            "replaces": replaces,
        }
        (_uploads_dir() / f"{key.hex}.part").touch(mode=0o600)
        (_uploads_dir() / f"{key.hex}.json").write_text(json.dumps(meta))
        return Response({"upload": str(key), "offset": 0, "size": size}, status=201)


class UploadChunk(APIView):
    @extend_schema(responses={200: _OFFSET, 404: None})
    def get(self, request, upload_id):
        meta, part = _load(upload_id, request.user)
        return Response({"offset": part.stat().st_size, "size": meta["size"]})

    @extend_schema(
        request={"application/octet-stream": OpenApiTypes.BINARY},
        parameters=[
            OpenApiParameter("Upload-Offset", int, OpenApiParameter.HEADER, required=True, description="bytes held")
        ],
        responses={
            200: _OFFSET,
            201: OpenApiResponse(_FINISHED, description="last byte received: recording stored, job queued"),
            400: _DETAIL,
            404: None,
            409: OpenApiResponse(_OFFSET, description="wrong offset: resume from the server's"),
        },
    )
    def patch(self, request, upload_id):
        meta, part = _load(upload_id, request.user)
        offset = part.stat().st_size
        try:
            claimed = int(request.headers.get("Upload-Offset", "-1"))
        except ValueError:
            claimed = -1
        if claimed != offset:
            return Response({"offset": offset, "size": meta["size"]}, status=409)
        stream = request._request  # read the raw body in blocks, never all at once
        with open(part, "ab") as out:
            while block := stream.read(BLOCK):
                if offset + len(block) > meta["size"]:
                    return Response({"detail": "More bytes than the declared size."}, status=400)
                out.write(block)
                offset += len(block)
        if offset < meta["size"]:
            return Response({"offset": offset, "size": meta["size"]})
        return self._finish(request, upload_id, meta, part)

    def _finish(self, request, upload_id, meta, part):
        interview, _tier = access.interview_for(request.user, meta["interview"])
        if not access.can_edit(request.user, interview):
            raise Http404
        replaces = None
        if meta.get("replaces"):
            replaces = Recording.objects.filter(public_id=meta["replaces"], interview=interview).first()
        try:
            with transaction.atomic(), open(part, "rb") as handle:
                recording, job = recording_add(
                    interview=interview,
                    fileobj=handle,
                    original_filename=meta["filename"],
                    actor=request.user,
                    replaces=replaces,
                    options=meta["options"],
                )
        except RecordingRefused as error:
            return Response({"detail": str(error)}, status=400)
        part.unlink(missing_ok=True)
        part.with_suffix(".json").unlink(missing_ok=True)
        return Response(
            {
                "offset": meta["size"],
                "size": meta["size"],
                "recording": str(recording.public_id),
                "job": str(job.public_id),
            },
            status=201,
        )


class JobStatus(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "TranscriptionJobStatus",
                {
                    "job": serializers.UUIDField(),
                    "interview": serializers.UUIDField(),
                    "state": serializers.ChoiceField(choices=TranscriptionJob.State.choices),
                    "progress": serializers.FloatField(),
                    "reason": serializers.CharField(),
                    "attempts": serializers.IntegerField(),
                },
            ),
            404: None,
        }
    )
    def get(self, request, job_id):
        try:
            job = TranscriptionJob.objects.select_related("recording__interview").get(public_id=job_id)
        except (TranscriptionJob.DoesNotExist, ValueError):
            raise Http404 from None
        interview, _tier = access.interview_for(request.user, job.recording.interview.public_id)
        if not access.can_edit(request.user, interview):
            raise Http404
        return Response(
            {
                "job": str(job.public_id),
                "interview": str(interview.public_id),
                "state": job.state,
                "progress": job.progress,
                "reason": job.reason,
                "attempts": job.attempts,
            }
        )


class Retranscribe(APIView):
    @extend_schema(
        request=inline_serializer(
            "RetranscribeRequest",
            {"language": serializers.CharField(required=False, help_text="ISO 639 code; detected if absent")},
        ),
        responses={
            202: inline_serializer(
                "RetranscribeQueued", {"jobs": serializers.ListField(child=serializers.UUIDField())}
            ),
            400: _DETAIL,
            404: None,
        },
    )
    def post(self, request, public_id):
        """A new transcript version of every recorded part (redactions carried over or held for a decision)."""
        interview, _tier = access.interview_for(request.user, public_id)
        if not access.can_edit(request.user, interview):
            raise Http404
        language = _job_options(request.data)["language"]
        try:
            jobs = interview_retranscribe(interview=interview, actor=request.user, language=language)
        except RecordingRefused as error:
            return Response({"detail": str(error)}, status=400)
        return Response({"jobs": [str(job.public_id) for job in jobs]}, status=202)
