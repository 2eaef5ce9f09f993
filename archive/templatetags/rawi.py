from django import template

from ..placeholders import text_direction

register = template.Library()


@register.filter
def timecode(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = int(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


@register.filter
def textdir(language: str) -> str:
    return "rtl" if (language or "").split("-")[0] in {"ar", "fa", "he", "ur"} else "auto"


@register.filter
def segment_dir(text: str, language: str = "") -> str:
    """A segment's direction by its own letters (an English line in an Arabic interview runs left to right)."""
    return text_direction(text or "", language or "")
