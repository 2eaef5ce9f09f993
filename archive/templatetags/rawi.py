from django import template

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
