"""Opening uploaded zip archives without trusting them.

Refused, each with its own reason: archives that are not zips or are corrupt, too many members,
too much declared or actual uncompressed data (zip bombs, including members whose headers lie about
their size and members that overlap one another), suspicious compression ratios, absolute paths,
`..` components, drive letters, control characters, duplicate names, symlinks and other special
files, encrypted members, unknown compression methods, and archives nested inside the archive
(unless the caller allows one level, as bulk imports do).

Members are read into memory with a running byte count, never extracted to disk by name.
"""

from __future__ import annotations

import io
import stat
import struct
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from .base import ImportRefused

_CHUNK = 1024 * 1024
_NESTED_SUFFIXES = (".zip", ".jar", ".apk", ".7z", ".rar", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".zst")
_NESTED_MAGIC = (b"PK\x03\x04", b"7z\xbc\xaf", b"Rar!", b"\x1f\x8b", b"BZh", b"\xfd7zXZ")
# Office documents are zips too; they are stored as attachments and never opened as archives here.
_OFFICE_SUFFIXES = (".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".epub")
_SUPPORTED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


@dataclass
class ZipLimits:
    max_archive_bytes: int = 2 * 1024**3
    max_members: int = 5_000
    max_member_bytes: int = 512 * 1024**2
    max_total_bytes: int = 1024**3
    # Ratio checks only apply to members large enough to matter: small text compresses well.
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1024**2
    max_name_chars: int = 512
    allow_nested: bool = False


@dataclass
class ZipBudget:
    """Bytes still allowed to be decompressed; shared by a zip and any zip read from inside it."""

    remaining: int

    def spend(self, amount: int) -> None:
        self.remaining -= amount
        if self.remaining < 0:
            raise ImportRefused(
                "The archive expands to more data than allowed (a zip bomb or an oversized export).",
                code="zip_bomb",
            )


@dataclass(frozen=True)
class SafeMember:
    name: str  # normalised POSIX path inside the archive
    size: int
    compressed_size: int
    info: zipfile.ZipInfo = field(repr=False, compare=False)

    @property
    def basename(self) -> str:
        return PurePosixPath(self.name).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix.lower()


def is_zip(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _normalise_name(raw: str, limits: ZipLimits) -> str:
    if not raw or len(raw) > limits.max_name_chars:
        raise ImportRefused("The archive contains a member with an empty or overlong name.", code="zip_path")
    if any(unicodedata.category(char) == "Cc" for char in raw):
        raise ImportRefused("The archive contains a member name with control characters.", code="zip_path")
    name = raw.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or name.startswith("//"):
        raise ImportRefused("The archive contains a member with an absolute path.", code="zip_path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise ImportRefused(
            "The archive contains a member whose path climbs out of the archive (`..`).", code="zip_path"
        )
    if not parts:
        raise ImportRefused("The archive contains a member with an empty name.", code="zip_path")
    return "/".join(parts)


class SafeZip:
    """A validated view of a zip archive. Construct with bytes; every check runs in __init__."""

    def __init__(self, data: bytes, *, limits: ZipLimits | None = None, budget: ZipBudget | None = None):
        self.limits = limits or ZipLimits()
        self.budget = budget or ZipBudget(self.limits.max_total_bytes)
        if not data:
            raise ImportRefused("The archive is empty.", code="empty")
        if len(data) > self.limits.max_archive_bytes:
            raise ImportRefused("The archive is larger than the upload limit.", code="too_large")
        if not is_zip(data):
            raise ImportRefused("The file is not a zip archive.", code="zip_corrupt")
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error) as exc:
            raise ImportRefused("The zip archive is corrupt or truncated.", code="zip_corrupt") from exc
        except NotImplementedError as exc:
            raise ImportRefused("The zip archive uses a feature that is not supported.", code="zip_corrupt") from exc
        self._data_len = len(data)
        self.members: list[SafeMember] = self._validate(infos)

    def _validate(self, infos: list[zipfile.ZipInfo]) -> list[SafeMember]:
        limits = self.limits
        if len(infos) > limits.max_members:
            raise ImportRefused(
                f"The archive has {len(infos)} members; at most {limits.max_members} are allowed.", code="zip_members"
            )
        declared_total = sum(info.file_size for info in infos)
        if declared_total > min(limits.max_total_bytes, self.budget.remaining):
            raise ImportRefused(
                "The archive expands to more data than allowed (a zip bomb or an oversized export).",
                code="zip_bomb",
            )
        members: list[SafeMember] = []
        seen: set[str] = set()
        for info in infos:
            mode = (info.external_attr >> 16) & 0xFFFF
            if mode and stat.S_ISLNK(mode):
                raise ImportRefused("The archive contains a symbolic link, which is not allowed.", code="zip_symlink")
            if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise ImportRefused("The archive contains a device, pipe or other special file.", code="zip_special")
            name = _normalise_name(info.filename, limits)
            if info.flag_bits & 0x1:
                raise ImportRefused(
                    "The archive contains an encrypted (password-protected) member; export it without a password.",
                    code="zip_encrypted",
                )
            if info.compress_type not in _SUPPORTED_METHODS:
                raise ImportRefused("The archive uses an unsupported compression method.", code="zip_corrupt")
            if info.is_dir() or (mode and stat.S_ISDIR(mode)):
                continue
            folded = name.casefold()
            if folded in seen:
                raise ImportRefused("The archive contains two members with the same name.", code="zip_duplicate")
            seen.add(folded)
            if info.file_size > limits.max_member_bytes:
                raise ImportRefused("A member of the archive is larger than the per-file limit.", code="zip_bomb")
            if info.file_size >= limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
                1, info.compress_size
            ):
                raise ImportRefused(
                    "A member of the archive is compressed suspiciously well (a zip bomb).", code="zip_ratio"
                )
            if not limits.allow_nested and name.lower().endswith(_NESTED_SUFFIXES):
                raise ImportRefused(
                    "The archive contains another archive inside it, which is not allowed.", code="zip_nested"
                )
            members.append(SafeMember(name=name, size=info.file_size, compressed_size=info.compress_size, info=info))
        self._check_overlap(infos)
        return members

    def _check_overlap(self, infos: list[zipfile.ZipInfo]) -> None:
        """Members whose compressed data overlap are how the densest zip bombs reuse one kernel."""
        spans = sorted((info.header_offset, info.compress_size, info) for info in infos if not info.is_dir())
        previous_end = -1
        for offset, compress_size, info in spans:
            if offset < previous_end:
                raise ImportRefused("The archive's members overlap one another (a zip bomb).", code="zip_bomb")
            header = 30 + len(info.orig_filename.encode("utf-8", "surrogateescape"))
            previous_end = offset + header + compress_size
            if previous_end > self._data_len:
                raise ImportRefused("The zip archive is corrupt or truncated.", code="zip_corrupt")

    def names(self) -> list[str]:
        return [member.name for member in self.members]

    def get(self, name: str) -> SafeMember | None:
        for member in self.members:
            if member.name == name:
                return member
        return None

    def read(self, member: SafeMember | str) -> bytes:
        if isinstance(member, str):
            found = self.get(member)
            if found is None:
                raise ImportRefused("A file the archive refers to is missing from it.", code="zip_missing")
            member = found
        out = bytearray()
        try:
            with self._zip.open(member.info) as handle:
                while True:
                    chunk = handle.read(_CHUNK)
                    if not chunk:
                        break
                    out += chunk
                    self.budget.spend(len(chunk))
                    if len(out) > member.size or len(out) > self.limits.max_member_bytes:
                        raise ImportRefused(
                            "A member of the archive expands beyond the size its header declares (a zip bomb).",
                            code="zip_bomb",
                        )
        except ImportRefused:
            raise
        except RuntimeError as exc:  # encrypted members that slipped past the flag check
            raise ImportRefused("The archive contains an encrypted member.", code="zip_encrypted") from exc
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error, NotImplementedError) as exc:
            raise ImportRefused(
                "A member of the zip archive is corrupt (bad checksum or truncated data).", code="zip_corrupt"
            ) from exc
        data = bytes(out)
        if (
            not self.limits.allow_nested
            and data[:6].startswith(_NESTED_MAGIC)
            and not member.name.lower().endswith(_OFFICE_SUFFIXES)
        ):
            raise ImportRefused(
                "The archive contains another archive inside it, which is not allowed.", code="zip_nested"
            )
        return data
