"""Opening uploaded tar archives (Skype exports arrive as an uncompressed .tar) without trusting them.

The same refusals as SafeZip, with the same codes: too many members, too much data, absolute paths,
`..` components, control characters, duplicate names, links, devices and other special files, sparse
members, archives nested inside. Only plain (uncompressed) tar is read: a compressed tar would have to
be decompressed in full just to list its members, which is how a small upload becomes a long stall.
Members are read into memory with a running byte count, never extracted to disk.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from .base import ImportRefused
from .safezip import _NESTED_MAGIC, _NESTED_SUFFIXES, _OFFICE_SUFFIXES, ZipBudget, ZipLimits, _normalise_name

_TAR_MAGIC_OFFSET = 257


def is_tar(data: bytes) -> bool:
    """A POSIX (ustar) or GNU tar header at the start of `data`."""
    return data[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + 5] == b"ustar"


@dataclass(frozen=True)
class TarMember:
    name: str
    size: int
    info: tarfile.TarInfo = field(repr=False, compare=False)

    @property
    def basename(self) -> str:
        return PurePosixPath(self.name).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix.lower()


class SafeTar:
    """A validated view of an uncompressed tar archive; every check runs in __init__."""

    def __init__(self, data: bytes, *, limits: ZipLimits | None = None, budget: ZipBudget | None = None):
        self.limits = limits or ZipLimits()
        self.budget = budget or ZipBudget(self.limits.max_total_bytes)
        if not data:
            raise ImportRefused("The archive is empty.", code="empty")
        if len(data) > self.limits.max_archive_bytes:
            raise ImportRefused("The archive is larger than the upload limit.", code="too_large")
        if not is_tar(data):
            raise ImportRefused("The file is not an uncompressed tar archive.", code="zip_corrupt")
        try:
            self._tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 - lives as long as self
            self.members = self._validate()
        except ImportRefused:
            raise
        except (tarfile.TarError, OSError, ValueError, EOFError, UnicodeError) as exc:
            raise ImportRefused("The tar archive is corrupt or truncated.", code="zip_corrupt") from exc

    def _validate(self) -> list[TarMember]:
        limits = self.limits
        members: list[TarMember] = []
        seen: set[str] = set()
        declared = 0
        count = 0
        for info in self._tar:
            count += 1
            if count > limits.max_members:
                raise ImportRefused(
                    f"The archive has more than {limits.max_members} members, the limit.", code="zip_members"
                )
            if info.issym() or info.islnk():
                raise ImportRefused("The archive contains a link, which is not allowed.", code="zip_symlink")
            name = _normalise_name(info.name, limits)
            if info.isdir():
                continue
            if not info.isreg() or info.issparse():
                raise ImportRefused("The archive contains a device, pipe or other special file.", code="zip_special")
            folded = name.casefold()
            if folded in seen:
                raise ImportRefused("The archive contains two members with the same name.", code="zip_duplicate")
            seen.add(folded)
            if info.size > limits.max_member_bytes:
                raise ImportRefused("A member of the archive is larger than the per-file limit.", code="zip_bomb")
            declared += info.size
            if declared > min(limits.max_total_bytes, self.budget.remaining):
                raise ImportRefused(
                    "The archive expands to more data than allowed (an oversized export).", code="zip_bomb"
                )
            if not limits.allow_nested and name.lower().endswith(_NESTED_SUFFIXES):
                raise ImportRefused(
                    "The archive contains another archive inside it, which is not allowed.", code="zip_nested"
                )
            members.append(TarMember(name=name, size=info.size, info=info))
        return members

    def names(self) -> list[str]:
        return [member.name for member in self.members]

    def read(self, member: TarMember) -> bytes:
        try:
            handle = self._tar.extractfile(member.info)
            if handle is None:
                raise ImportRefused("The archive contains a device, pipe or other special file.", code="zip_special")
            data = handle.read(member.size + 1)
        except ImportRefused:
            raise
        except (tarfile.TarError, OSError, ValueError, EOFError) as exc:
            raise ImportRefused("A member of the tar archive is corrupt or truncated.", code="zip_corrupt") from exc
        if len(data) != member.size:
            raise ImportRefused("A member of the tar archive is corrupt or truncated.", code="zip_corrupt")
        self.budget.spend(len(data))
        if (
            not self.limits.allow_nested
            and data[:6].startswith(_NESTED_MAGIC)
            and not member.name.lower().endswith(_OFFICE_SUFFIXES)
        ):
            raise ImportRefused(
                "The archive contains another archive inside it, which is not allowed.", code="zip_nested"
            )
        return data
