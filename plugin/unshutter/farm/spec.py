"""The batch spec: a YAML list of shots to render as chunked farm tasks.

Example (paths are relative to the spec file)::

    name: reel1
    chunk: 10
    shots:
      - {name: bridge, input: plates/bridge.####.exr, output: out/bridge.####.exr, factor: 4}
      - name: car
        input: plates/car.####.exr
        output: out/car.####.exr
        factor: 8
        shutter: 180
        guidance: neighbors
        overrides: car_overrides.yaml
        motion_pass: vectors/car.####.exr   # optional: per-pixel motion (unshutter run --motion-pass)
        frames: 1001-1050
        chunk: 5

The schema is ``unshutter/schemas/batch.schema.json``; every error names the
spec file, the shot and the field.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from unshutter.errors import InputError, OverrideError, ParameterError
from unshutter.guidance.overrides import Overrides, load_overrides
from unshutter.io import movie, sequence
from unshutter.io.files import open_regular
from unshutter.node import NodeParams

DEFAULT_CHUNK = 10


class SpecError(ParameterError):
    """A batch spec that does not validate (exit code 2, like any bad parameter)."""


@dataclass(frozen=True)
class Shot:
    """One shot of a batch, with absolute paths."""

    name: str
    input: str
    output: str
    factor: int
    shutter: float = 360.0
    guidance: str = "neighbors"
    overrides: str | None = None
    timing: str = "even"
    follow: float = NodeParams.follow
    frames: tuple[int, int] | None = None
    motion: tuple[float, float] | None = None  # --motion DX,DY
    chunk: int = DEFAULT_CHUNK
    motion_pass: str | None = None  # --motion-pass PATTERN
    motion_pass_channels: str | None = None  # --motion-pass-channels X,Y
    motion_pass_y: str = "up"
    motion_pass_points: str = "auto"
    motion_pass_units: str = "px"

    def params(self) -> NodeParams:
        return NodeParams(
            factor=self.factor,
            shutter=self.shutter,
            guidance=self.guidance,
            overrides=self.overrides,
            timing=self.timing,
            follow=self.follow,
            motion=self.motion,
            motion_pass=self.motion_pass,
            motion_pass_channels=self.motion_pass_channels,
            motion_pass_y=self.motion_pass_y,
            motion_pass_points=self.motion_pass_points,
            motion_pass_units=self.motion_pass_units,
        )

    @cached_property
    def loaded_overrides(self) -> Overrides | None:
        """The override file, read and validated once per Shot: ``farm check`` and ``farm openjd``
        validate it and then list the files it names.

        Errors name the shot: ParameterError for a missing file, OverrideError
        for one that does not validate. A failed load is not kept, so it is
        reported again the next time.
        """
        if not self.overrides:
            return None
        if not Path(self.overrides).is_file():
            raise ParameterError(f"shot {self.name!r}.overrides: {self.overrides}: file not found")
        try:
            return load_overrides(self.overrides)
        except OverrideError as exc:
            raise OverrideError(f"shot {self.name!r}.overrides: {exc}") from None

    @cached_property
    def warned(self) -> set[str]:
        """Warnings already logged about this shot: once per loaded spec (one command's run), not per process."""
        return set()

    def run_args(self) -> list[str]:
        """The ``unshutter run`` / ``unshutter farm chunk`` options for this shot (without --frames)."""
        args = [
            self.input,
            "-o",
            self.output,
            "--factor",
            str(self.factor),
            "--shutter",
            _num(self.shutter),
            "--guidance",
            self.guidance,
            "--timing",
            self.timing,
            "--follow",
            _num(self.follow),
        ]
        if self.overrides:
            args += ["--overrides", self.overrides]
        if self.motion is not None:
            args += ["--motion", motion_arg(self.motion)]
        if self.motion_pass:
            args += ["--motion-pass", self.motion_pass, *pass_args(self)]
        return args


@dataclass(frozen=True)
class BatchSpec:
    """A validated batch spec."""

    path: Path
    name: str
    shots: tuple[Shot, ...]
    model: str | None = None
    device: str = "auto"
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    threads: int | None = None  # per task (unshutter.threads); None: all cores of the node

    def shot(self, name: str) -> Shot:
        for s in self.shots:
            if s.name == name:
                return s
        raise SpecError(f"{self.path}: no shot named {name!r} (shots: {', '.join(s.name for s in self.shots)})")


def pass_args(shot: Shot) -> list[str]:
    """The motion pass's convention options of a shot (its pattern is given by each runner, mapped its way)."""
    args = ["--motion-pass-y", shot.motion_pass_y, "--motion-pass-points", shot.motion_pass_points]
    args += ["--motion-pass-units", shot.motion_pass_units]
    if shot.motion_pass_channels:
        args += ["--motion-pass-channels", shot.motion_pass_channels]
    return args


def motion_arg(motion: tuple[float, float]) -> str:
    """``--motion``'s value for a vector: ``40,-2.5``."""
    return ",".join(_num(v) for v in motion)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(resources.files("unshutter").joinpath("schemas/batch.schema.json").read_text())


def _where(path: Path, data: Any, err_path: list[Any]) -> str:
    """``spec.yaml: shot 'car' (shots[1]).factor`` for a jsonschema error path."""
    if len(err_path) >= 2 and err_path[0] == "shots" and isinstance(err_path[1], int):
        i = err_path[1]
        shot = data["shots"][i] if isinstance(data.get("shots"), list) and i < len(data["shots"]) else None
        name = shot.get("name") if isinstance(shot, dict) else None
        head = f"shot {name!r} (shots[{i}])" if isinstance(name, str) else f"shots[{i}]"
        rest = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err_path[2:])
        return f"{path}: {head}{rest}"
    if not err_path:
        return f"{path}"
    return f"{path}: " + "".join(
        f"[{p}]" if isinstance(p, int) else (f".{p}" if k else str(p)) for k, p in enumerate(err_path)
    )


def _message(err: Any) -> str:
    """A jsonschema error as a short phrase that names a missing/unknown field."""
    if err.validator == "required":
        missing = [r for r in err.validator_value if isinstance(err.instance, dict) and r not in err.instance]
        return f"missing required field {missing[0]!r}" if missing else err.message
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            return f"unknown field {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
    if err.validator == "pattern" and err.absolute_path and err.absolute_path[-1] == "name":
        return f"{err.instance!r}: use letters, digits, '_', '.', '-' (at most 48, not starting with '.' or '-')"
    if err.validator == "oneOf" and err.absolute_path and err.absolute_path[-1] == "frames":
        return f"{err.instance!r}: expected A-B, e.g. 1001-1050"
    return err.message


def _frames(value: Any) -> tuple[int, int]:
    text = str(value).replace(" ", "")
    if "-" in text[1:]:
        i = text.index("-", 1)
        a, b = int(text[:i]), int(text[i + 1 :])
    else:
        a = b = int(text)
    if b < a:
        raise ValueError("end before start")
    return a, b


def validate(data: Any, path: Path) -> None:
    """Raise :class:`SpecError` for the first problem in ``data`` (schema, then semantics)."""
    import jsonschema

    if not isinstance(data, dict):
        raise SpecError(f"{path}: a batch spec is a mapping with a 'shots' list")
    errors = list(jsonschema.Draft202012Validator(schema()).iter_errors(data))
    if errors:
        # report the error in the earliest shot, preferring the deepest (most specific) one
        first = min(
            errors,
            key=lambda e: ([p if isinstance(p, int) else -1 for p in e.absolute_path][:2], -len(e.absolute_path)),
        )
        raise SpecError(f"{_where(path, data, list(first.absolute_path))}: {_message(first)}")
    seen: dict[str, int] = {}
    base = path.parent
    plates: dict[tuple[str, str, str], str] = {}  # the input sequences, by (folder, prefix, suffix)
    for s in data["shots"]:
        inp = _abs(base, s["input"])
        if not _is_movie(inp):
            with contextlib.suppress(ParameterError):  # reported below, for the shot it belongs to
                pat, _ = sequence.parse_pattern(inp)
                plates.setdefault(pat.files_key, s["name"])
    outputs: dict[tuple[str, str], str] = {}  # what each shot writes, by (folder, manifest base)
    for i, s in enumerate(data["shots"]):
        where = f"{path}: shot {s['name']!r} (shots[{i}])"
        if s["name"] in seen:
            raise SpecError(f"{where}.name: duplicate of shots[{seen[s['name']]}]")
        seen[s["name"]] = i
        _check_params(s, where)
        if "frames" in s:
            try:
                _frames(s["frames"])
            except ValueError:
                raise SpecError(f"{where}.frames: {s['frames']!r}: expected A-B with A <= B, e.g. 1001-1050") from None
        out = s["output"]
        inp = _abs(base, s["input"])
        if not _is_movie(inp):
            try:
                sequence.parse_pattern(inp)
            except ParameterError as exc:
                raise SpecError(f"{where}.input: {exc}") from None
        try:
            folder, prefix, suffix = output_files(inp, _abs(base, out))
        except ParameterError as exc:
            raise SpecError(f"{where}.output: {exc}") from None
        folder = folder.resolve()
        mine = sequence.files_key(folder, prefix, suffix)
        owner = next((name for key, name in plates.items() if sequence.keys_collide(mine, key)), None)
        if owner is not None:
            whose = "its own input plates" if owner == s["name"] else f"the input plates of shot {owner!r}"
            raise SpecError(f"{where}.output: {out}: writes {prefix}####{suffix} in {folder}, over {whose}")
        key = (str(folder), _manifest_base(prefix))
        if key in outputs:
            named = (
                ""
                if sequence.is_sequence_spec(out)
                else f" (a folder output keeps the input name {prefix}####{suffix})"
            )
            raise SpecError(f"{where}.output: {out}: same output as shot {outputs[key]!r}{named}")
        outputs[key] = s["name"]


def _check_params(s: dict[str, Any], where: str) -> None:
    """The node's own checks on a shot's parameters, so the farm refuses what ``run`` refuses
    before any task exists (the schema's bounds let NaN through: NaN fails no comparison)."""
    params = NodeParams(
        factor=s["factor"],
        shutter=s.get("shutter", 360.0),
        guidance=s.get("guidance", "neighbors"),
        timing=s.get("timing", "even"),
        follow=s.get("follow", NodeParams.follow),
        motion=tuple(s["motion"]) if isinstance(s.get("motion"), list) else None,
        motion_pass=s.get("motion_pass"),
        motion_pass_channels=s.get("motion_pass_channels"),
        motion_pass_y=s.get("motion_pass_y", "up"),
        motion_pass_points=s.get("motion_pass_points", "auto"),
        motion_pass_units=s.get("motion_pass_units", "px"),
    )
    try:
        params.validate()
        params.check_pass_options()  # the runners send a pass's options only with the pass
    except ParameterError as exc:
        text = str(exc)
        if text.startswith("--") and " " in text:  # "--shutter nan: ..." -> ".shutter: nan: ..."
            option, rest = text[2:].split(" ", 1)
            raise SpecError(f"{where}.{option.replace('-', '_')}: {rest}") from None
        raise SpecError(f"{where}: {text}") from None


def _is_movie(spec: str) -> bool:
    return Path(spec).suffix.lower() in movie.MOVIE_EXTS and not sequence.is_sequence_spec(spec)


def _manifest_base(prefix: str) -> str:
    """The name chunk manifests share (``<base>.unshutter.A-B.json``), as the pipeline derives it."""
    return prefix.rstrip("._-") or "unshutter"


def output_files(input: str, output: str) -> tuple[Path, str, str]:
    """Folder, name prefix and suffix of the image sequence a farm chunk of ``input`` writes for ``-o output``.

    Decided from the paths alone, as the pipeline decides them: a pattern is
    itself, a folder keeps the input's name. Raises ParameterError for outputs
    that would be a movie (a chunk would replace the whole movie with its own
    frames) and for patterns with a frame range.
    """
    if _is_movie(output):
        raise ParameterError(
            f"{output}: farm chunks write image sequences, not movies "
            "(give out/name.####.exr and make the movie afterwards)"
        )
    if sequence.is_sequence_spec(output):
        pat, explicit = sequence.parse_pattern(output)
        if explicit is not None:
            raise ParameterError(f"{output}: give a pattern without a frame range")
        return pat.dirname, pat.prefix, pat.suffix
    if _is_movie(input):
        raise ParameterError(
            f"{output}: a folder output of the movie {Path(input).name} would be a movie; "
            f"farm chunks write image sequences (give {Path(output) / Path(input).stem}.####.png)"
        )
    pat, _ = sequence.parse_pattern(input)
    return Path(output), pat.prefix, pat.suffix


def check_chunk_paths(input: str, output: str) -> None:
    """Raise ParameterError when a chunk of ``input`` with ``-o output`` would write a movie.

    An output over the plates is refused by the pipeline itself (``pipeline.check_writes``),
    for farm chunks and plain runs alike.
    """
    try:
        output_files(input, output)
    except ParameterError as exc:
        raise ParameterError(f"-o {exc}") from None


def _abs(base: Path, p: str) -> str:
    """Resolve ``p`` against the spec's folder, keeping sequence tokens (####, %04d) intact."""
    q = Path(p).expanduser()
    return str(q if q.is_absolute() else (base / q).resolve())


def from_dict(data: Any, path: Path) -> BatchSpec:
    validate(data, path)
    base = path.parent.resolve()
    default_chunk = int(data.get("chunk", DEFAULT_CHUNK))
    shots = []
    for s in data["shots"]:
        shots.append(
            Shot(
                name=s["name"],
                input=_abs(base, s["input"]),
                output=_abs(base, s["output"]),
                factor=int(s["factor"]),
                shutter=float(s.get("shutter", 360.0)),
                guidance=s.get("guidance", "neighbors"),
                timing=s.get("timing", "even"),
                follow=float(s.get("follow", NodeParams.follow)),
                overrides=_abs(base, s["overrides"]) if s.get("overrides") else None,
                frames=_frames(s["frames"]) if "frames" in s else None,
                chunk=int(s.get("chunk", default_chunk)),
                motion=(float(s["motion"][0]), float(s["motion"][1])) if s.get("motion") is not None else None,
                motion_pass=_abs(base, s["motion_pass"]) if s.get("motion_pass") else None,
                motion_pass_channels=s.get("motion_pass_channels"),
                motion_pass_y=s.get("motion_pass_y", "up"),
                motion_pass_points=s.get("motion_pass_points", "auto"),
                motion_pass_units=s.get("motion_pass_units", "px"),
            )
        )
    model = _abs(base, data["model"]) if data.get("model") else None
    return BatchSpec(
        path,
        data.get("name") or path.stem,
        tuple(shots),
        model,
        data.get("device", "auto"),
        data,
        threads=int(data.get("threads") or 0) or None,
    )


def load_spec(path: str | Path) -> BatchSpec:
    """Read and validate a batch spec (YAML or JSON)."""
    path = Path(path)
    try:
        fd = open_regular(path)  # a FIFO would hang the read
        with open(fd, encoding="utf-8") as f:
            text = f.read()
    except InputError as exc:
        raise SpecError(f"batch spec {exc}") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read batch spec ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r}); "
            "save the batch spec as UTF-8"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return from_dict(data, path)
