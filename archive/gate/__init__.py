"""The gate: the only code that turns raw rows into outgoing text.

- `policy` — who may know which interview exists, and at which tier (querysets and lookups; 404 otherwise);
- `tiers` — the ordered clearance tiers;
- `identity` — the one decoder of narrator identities;
- `rules`, `inputs`, `redactor`, `render` — what one tier may see of one interview;
- `store` — renderings materialised per tier by the services that change their inputs, stamped, never
  served stale and never rebuilt by a read;
- `editors` — what editors are shown while they work (their tier's text, never more).

Everything outgoing (pages, API, search documents, exports, audio) is built from a `Rendering`; what one
reader receives of it is `reader_rendering` (the tier's, without the audio a grant does not let them hear).
"""

from . import policy, tiers
from .render import render
from .stamps import policy_stamp
from .store import materialise, reader_rendering, rendering_for, renderings_for, voiceless
from .types import AudioPart, NarratorRendering, NotVisible, RenderedWord, Rendering, SegmentRendering

__all__ = [
    "AudioPart",
    "NarratorRendering",
    "NotVisible",
    "RenderedWord",
    "Rendering",
    "SegmentRendering",
    "materialise",
    "policy",
    "policy_stamp",
    "reader_rendering",
    "render",
    "rendering_for",
    "renderings_for",
    "tiers",
    "voiceless",
]
