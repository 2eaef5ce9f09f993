"""Export service: one tier's rendering out in a chosen format, cached, audited.

The tier asked for must be at most the requester's tier and must be able to see the interview;
anything else is `NotVisible` (the caller answers 404). Outputs are cached under
settings.EXPORTS_DIR/<interview public id>/ keyed by tier, format and the rendering's policy and
consent stamps, so a changed policy never serves an old file and withdrawal purges the directory.
Collection bags are built per request into a scratch file that is unlinked once opened.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings

from .. import exports
from ..exports import FORMATS, file_name
from ..exports.bag import BagItem, write_bag
from ..gate import NotVisible, Rendering, rendering_for, voiceless
from ..gate import policy as access
from ..models import TIER_ORDER, TIERS, Collection, Interview, Tier
from .audit import audit_log
from .withdrawal import export_cache_dir

DEFAULT_BAG_FORMATS: tuple[str, ...] = ("txt", "vtt", "json", "tei")


class ExportError(Exception):
    """The export could not be produced (e.g. audio failed verification); nothing was served."""


@dataclass(frozen=True)
class ExportResult:
    path: Path | None  # cached file (None when `handle` is an unlinked scratch file)
    handle: BinaryIO | None
    file_name: str
    content_type: str
    tier: str
    fmt: str

    def open(self) -> BinaryIO:
        if self.handle is not None:
            return self.handle
        assert self.path is not None
        return self.path.open("rb")


def _check_tier(tier: str, requester_tier: str) -> None:
    if tier not in TIERS or TIER_ORDER[tier] > TIER_ORDER[requester_tier]:
        raise NotVisible


def _stamp(rendering: Rendering) -> str:
    # The exporters' version too: a file written by older exporters is rebuilt, not served.
    parts = (rendering.policy_version, rendering.consent_version, rendering.audio_allowed, exports.EXPORTERS_VERSION)
    key = "|".join(map(str, parts))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def audio_sources(interview: Interview, rendering: Rendering) -> dict[str, Path]:
    """The original file of every recording in the tier's audio (rendering.audio_parts), by public id:
    each part is derived from exactly the media its segments' times refer to."""
    wanted = {part.recording_id for part in rendering.audio_parts}
    sources: dict[str, Path] = {}
    for recording in interview.recordings.filter(public_id__in=wanted):
        if not recording.original:
            continue
        try:
            sources[str(recording.public_id)] = Path(recording.original.path)
        except NotImplementedError:  # remote storage: not supported for audio redaction yet
            continue
    return sources


def _produce(rendering: Rendering, interview: Interview, fmt: str, destination: Path) -> None:
    spec = FORMATS[fmt]
    destination.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "audio":
        if not rendering.audio_allowed or not rendering.audio_parts:
            raise NotVisible
        assert spec.write_file is not None, "the audio format writes a file"
        # verifies, writes atomically, raises on failure (a missing original included)
        spec.write_file(rendering, audio_sources(interview, rendering), destination)
        return
    if fmt == "bagit":
        formats = [*DEFAULT_BAG_FORMATS, "audio"]
        item = BagItem(rendering, audio_sources(interview, rendering))
        write_bag(
            [item],
            destination,
            tier=rendering.tier,
            formats=formats,
            name=f"rawi-{rendering.interview_id}-{rendering.tier}",
        )
        return
    assert spec.write is not None, "every format but audio and bagit is a document, written to a stream"
    handle, scratch = tempfile.mkstemp(prefix=".part-", dir=destination.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            spec.write(rendering, out)
        os.replace(scratch, destination)
    finally:
        Path(scratch).unlink(missing_ok=True)


def export_interview(
    *, interview: Interview, fmt: str, tier: str, requester_tier: str, actor: Any = None, hears: bool = True
) -> ExportResult:
    """Export `interview` at `tier` (≤ requester_tier) in `fmt`; `hears`: whether the requester may hear
    the tier's audio (policy.hears), else the export holds none. Raises NotVisible or ExportError."""
    if fmt not in FORMATS:
        raise ValueError("unknown export format")
    _check_tier(tier, requester_tier)
    rendering = rendering_for(interview, tier)
    if not hears:
        rendering = voiceless(rendering)
    if fmt == "audio" and not rendering.audio_allowed:
        raise NotVisible
    extension = FORMATS[fmt].extension
    if tier == Tier.CUSTODIAN:
        # A custodian's export names hidden narrators: it is built for this request and never kept.
        return _export_uncached(rendering, interview, fmt, actor)
    cached = export_cache_dir(interview) / f"{tier}-{_stamp(rendering)}.{extension}"
    hit = cached.exists()
    if not hit:
        try:
            _produce(rendering, interview, fmt, cached)
        except NotVisible:
            raise
        except Exception as error:  # fail closed: nothing half-written is served
            cached.unlink(missing_ok=True)
            audit_log(
                actor=actor,
                action="export_failed",
                target_type="interview",
                target_id=str(interview.public_id),
                tier=tier,
                detail={"format": fmt},
            )
            raise ExportError("export failed") from error
        # Earlier outputs of this tier and format were built under another policy: never served again.
        for stale in cached.parent.glob(f"{tier}-*.{extension}"):
            if stale != cached:
                stale.unlink(missing_ok=True)
    audit_log(
        actor=actor,
        action="export",
        target_type="interview",
        target_id=str(interview.public_id),
        tier=tier,
        detail={"format": fmt, "cached": hit},
    )
    return ExportResult(cached, None, file_name(rendering, fmt), FORMATS[fmt].content_type, tier, fmt)


def _export_uncached(rendering: Rendering, interview: Interview, fmt: str, actor: Any) -> ExportResult:
    scratch_dir = Path(settings.EXPORTS_DIR) / ".scratch"
    scratch_dir.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(dir=scratch_dir))
    target = workspace / f"export.{FORMATS[fmt].extension}"
    try:
        _produce(rendering, interview, fmt, target)
        handle = target.open("rb")
    except NotVisible:
        raise
    except Exception as error:  # fail closed: nothing half-written is served or kept
        audit_log(
            actor=actor,
            action="export_failed",
            target_type="interview",
            target_id=str(interview.public_id),
            tier=rendering.tier,
            detail={"format": fmt},
        )
        raise ExportError("export failed") from error
    finally:
        # The open handle (if any) keeps the data readable; nothing stays on disk.
        shutil.rmtree(workspace, ignore_errors=True)
    audit_log(
        actor=actor,
        action="export",
        target_type="interview",
        target_id=str(interview.public_id),
        tier=rendering.tier,
        detail={"format": fmt, "cached": False},
    )
    return ExportResult(None, handle, file_name(rendering, fmt), FORMATS[fmt].content_type, rendering.tier, fmt)


def export_interview_bag(
    *,
    interview: Interview,
    tier: str,
    requester_tier: str,
    destination: Path,
    formats: Sequence[str] = (*DEFAULT_BAG_FORMATS, "audio"),
    actor: Any = None,
) -> Path:
    """A bag of one interview written to `destination` (a directory, or a .zip), not cached."""
    _check_tier(tier, requester_tier)
    rendering = rendering_for(interview, tier)
    item = BagItem(rendering, audio_sources(interview, rendering) if "audio" in formats else {})
    try:
        write_bag([item], destination, tier=tier, formats=list(formats), name=f"rawi-{rendering.interview_id}-{tier}")
    except Exception as error:
        audit_log(
            actor=actor, action="export_failed", target_type="interview", target_id=str(interview.public_id), tier=tier
        )
        raise ExportError("export failed") from error
    audit_log(
        actor=actor,
        action="export",
        target_type="interview",
        target_id=str(interview.public_id),
        tier=tier,
        detail={"format": "bagit", "formats": list(formats)},
    )
    return destination


def collection_interviews(
    collection: Collection, tier: str, user: Any = None, *, as_operator: bool = False
) -> list[Interview]:
    """Interviews of the collection that exist at `tier` and that the requester may see at that tier."""
    queryset = collection.interviews.order_by("pk")
    if as_operator:
        candidates = list(queryset)
    else:
        candidates = [i for i, t in access.visible_interviews(user, queryset) if TIER_ORDER[t] >= TIER_ORDER[tier]]
    return [i for i in candidates if tier in access.visible_tiers(i)]


def export_collection(
    *,
    collection: Collection,
    tier: str,
    requester_tier: str,
    formats: Sequence[str] = DEFAULT_BAG_FORMATS,
    user: Any = None,
    as_operator: bool = False,
    destination: Path | None = None,
) -> ExportResult:
    """A BagIt package of every interview in the collection visible at `tier`.

    With `destination` the bag is written there (a directory, or a .zip); otherwise into a scratch zip
    under EXPORTS_DIR that is unlinked as soon as it is opened (the returned handle streams it).
    """
    _check_tier(tier, requester_tier)
    interviews = collection_interviews(collection, tier, user, as_operator=as_operator)
    if not interviews:
        raise NotVisible
    items = []
    for interview in interviews:
        rendering = rendering_for(interview, tier)
        items.append(BagItem(rendering, audio_sources(interview, rendering) if "audio" in formats else {}))
    name = f"rawi-{collection.slug}-{tier}"
    scratch_dir = Path(settings.EXPORTS_DIR) / ".scratch"
    scratch_dir.mkdir(parents=True, exist_ok=True)
    target = destination or Path(tempfile.mkdtemp(dir=scratch_dir)) / "bag.zip"
    try:
        write_bag(items, target, tier=tier, formats=list(formats), name=name)
    except Exception as error:
        audit_log(actor=user, action="export_failed", target_type="collection", target_id=collection.slug, tier=tier)
        raise ExportError("export failed") from error
    finally:
        if destination is None and not target.exists():
            target.parent.rmdir()
    audit_log(
        actor=user,
        action="export",
        target_type="collection",
        target_id=collection.slug,
        tier=tier,
        detail={"format": "bagit", "interviews": len(items), "formats": list(formats)},
    )
    if destination is not None:
        return ExportResult(destination, None, destination.name, FORMATS["bagit"].content_type, tier, "bagit")
    handle = target.open("rb")
    target.unlink()
    target.parent.rmdir()
    return ExportResult(None, handle, f"{name}.zip", FORMATS["bagit"].content_type, tier, "bagit")
