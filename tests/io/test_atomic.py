"""io.atomic: text files replaced whole or not at all, with an OutputError (exit 6) naming the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.limits import HANG
from tests.robustness.conftest import size_limit

_WRITER = """
import json, sys
from pathlib import Path
from unshutter.errors import UnshutterError
from unshutter.io.atomic import write_text
try:
    write_text(Path(sys.argv[1]), "x" * 100000)
    print(json.dumps({"ok": True}))
except UnshutterError as exc:
    print(json.dumps({"ok": False, "code": exc.exit_code, "message": str(exc)}))
"""


def test_write_text_past_the_size_limit_is_an_output_error(tmp_path: Path) -> None:
    target = tmp_path / "shot.unshutter.json"
    target.write_text("old\n")
    p = subprocess.run(
        [sys.executable, "-c", _WRITER, str(target)],
        capture_output=True,
        text=True,
        preexec_fn=size_limit(50000),
        timeout=HANG,
    )
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res == {"ok": False, "code": 6, "message": res["message"]}
    assert str(target) in res["message"] and "\n" not in res["message"]
    assert target.read_text() == "old\n"  # the previous manifest is kept whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.unshutter.json"]
