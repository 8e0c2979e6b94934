"""Open Job Description path mapping inside a farm task: files named by other files.

A farm maps the job's PATH parameters for the task (``{{Param.X}}``), but not
the paths written inside an input file. An override file names its mattes and
labelme files, relative to itself or absolute, as they were on the submitting
machine. A task that gets ``--path-mapping {{Session.PathMappingRulesFile}}``
resolves each of them against where the override file was when the job was
submitted (``{{RawParam.X}}``), folds away ``..``, then maps the result with the
session's rules, the way the farm maps parameters:

- rules file: ``{"version": "pathmapping-1.0", "path_mapping_rules": [...]}``,
  or ``{}`` when the session has none (then nothing is mapped);
- each rule: ``source_path_format`` (``POSIX`` or ``WINDOWS``), ``source_path``,
  ``destination_path`` (a path on this host);
- the rule with the longest source applies; a path matches when its leading
  components equal the source's (case-insensitively for WINDOWS sources);
  the rest of the path is appended to the destination.

Deadline Cloud makes one rule per job-attachment root (to the session's
download folder) and per storage-profile location.
"""

from __future__ import annotations

import json
import ntpath
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

from unshutter.errors import ParameterError

RULES_VERSION = "pathmapping-1.0"
_FORMATS = {"POSIX": PurePosixPath, "WINDOWS": PureWindowsPath}
_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")


def _ascii_lower(text: str) -> str:
    """Lower case over ASCII letters only (how Windows path rules compare)."""
    return "".join(c.lower() if c.isascii() else c for c in text)


def flavour(path: str) -> type[PurePath]:
    """PureWindowsPath for ``C:\\...``, ``C:/...`` and ``\\\\server\\share``; PurePosixPath otherwise."""
    return PureWindowsPath if _WINDOWS_PATH.match(path) else PurePosixPath


@dataclass(frozen=True)
class Rule:
    """One path mapping rule: ``source`` (in ``source_format``) -> ``destination`` (on this host)."""

    source_format: str
    source: str
    destination: str

    @property
    def depth(self) -> int:
        return len(_FORMATS[self.source_format](self.source).parts)

    def apply(self, path: str) -> str | None:
        """``path`` mapped, or None when it is not under ``source``."""
        pure = _FORMATS[self.source_format]
        src, parts = pure(self.source).parts, pure(path).parts
        if len(parts) < len(src):
            return None
        fold = _ascii_lower if pure is PureWindowsPath else str
        if [fold(p) for p in parts[: len(src)]] != [fold(s) for s in src]:
            return None
        return str(Path(self.destination).joinpath(*parts[len(src) :]))


@dataclass(frozen=True)
class PathMapping:
    """The session's rules, most specific (longest source) first."""

    rules: tuple[Rule, ...] = ()

    def map(self, path: str) -> str:
        """``path`` through the first rule that matches it; unchanged when none does."""
        for rule in self.rules:
            mapped = rule.apply(path)
            if mapped is not None:
                return mapped
        return path

    @classmethod
    def from_dict(cls, doc: object, where: str = "path mapping rules") -> PathMapping:
        """Rules from a ``pathmapping-1.0`` document (``{}``: none). Raises ParameterError when malformed."""
        if doc == {}:
            return cls()
        if not isinstance(doc, dict) or doc.get("version") != RULES_VERSION:
            raise ParameterError(f"{where}: not a {RULES_VERSION} document")
        rules = []
        for i, r in enumerate(doc.get("path_mapping_rules") or []):
            try:
                fmt, src, dst = r["source_path_format"], r["source_path"], r["destination_path"]
            except (KeyError, TypeError):
                raise ParameterError(
                    f"{where}: path_mapping_rules[{i}]: needs source_path_format, source_path and destination_path"
                ) from None
            fmt = str(fmt).upper()
            if fmt not in _FORMATS:  # URI sources name no file a task reads
                continue
            rules.append(Rule(fmt, str(src), str(dst)))
        return cls(tuple(sorted(rules, key=lambda rule: -rule.depth)))

    @classmethod
    def load(cls, path: str | Path) -> PathMapping:
        """The rules file of an OpenJD session (``{{Session.PathMappingRulesFile}}``)."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8") or "{}")
        except OSError as exc:
            raise ParameterError(f"--path-mapping {path}: cannot read ({exc.strerror or exc})") from None
        except ValueError as exc:
            raise ParameterError(f"--path-mapping {path}: not JSON ({exc})") from None
        return cls.from_dict(doc, f"--path-mapping {path}")


@dataclass(frozen=True)
class Locator:
    """Where a task finds the files an override file names.

    ``origin`` is the override file as submitted; a relative name in it is
    relative to ``origin``'s folder (in ``origin``'s own path format, so a file
    written on Windows resolves on Linux), and the result goes through
    ``mapping``. Callable as ``load_overrides(..., locate=Locator(...))``.
    """

    origin: str
    mapping: PathMapping

    def __call__(self, name: str) -> str:
        pure = flavour(self.origin)
        ref = PureWindowsPath(name) if flavour(name) is PureWindowsPath else pure(name)  # C:\... is absolute anywhere
        full = ref if ref.is_absolute() else pure(self.origin).parent / ref
        # '..' folded away first (lexically, as the submitter lists job attachments), so the rule of
        # the folder the file is really in applies
        norm = ntpath.normpath if isinstance(full, PureWindowsPath) else posixpath.normpath
        return self.mapping.map(norm(str(full)))

    @property
    def overrides(self) -> str:
        """The override file itself, mapped."""
        return self.mapping.map(self.origin)
