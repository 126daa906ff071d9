"""Outputs are written atomically: a writer killed at random points never leaves a partial file under a final
name (only complete files, or none)."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from nas_edge._io import write_atomic

WRITER = textwrap.dedent("""
    import hashlib, os, sys
    from nas_edge._io import write_atomic
    out, n = sys.argv[1], 0
    while True:
        body = os.urandom(256 * 1024 + n % 4096)
        write_atomic(out, hashlib.sha256(body).hexdigest().encode() + b"\\n" + body)
        n += 1
""")


def _complete(path) -> bool:
    data = path.read_bytes()
    digest, _, body = data.partition(b"\n")
    return hashlib.sha256(body).hexdigest().encode() == digest


@pytest.mark.slow
def test_killed_writer_leaves_complete_files_only(tmp_path):
    rng = random.Random(0)
    out = tmp_path / "report.json"
    for _ in range(25):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(out)])
        time.sleep(0.3 + rng.random() * 0.4)  # import takes ~0.2 s; then it writes in a loop
        p.send_signal(signal.SIGKILL)
        p.wait()
        if out.exists():
            assert _complete(out)
    assert out.exists()  # the test did exercise writes
    leftovers = [f for f in os.listdir(tmp_path) if f != "report.json"]
    assert all(f.startswith(".report.json.") and f.endswith(".tmp") for f in leftovers)  # never the final name


def test_failed_write_keeps_the_previous_file(tmp_path):
    out = tmp_path / "profile.yaml"
    write_atomic(out, "old: 1\n")

    with pytest.raises(TypeError):
        write_atomic(out, object())  # type: ignore[arg-type]
    assert out.read_text() == "old: 1\n"
    assert sorted(os.listdir(tmp_path)) == ["profile.yaml"]  # the temp file is cleaned up


def test_unwritable_folder_raises_clearly(tmp_path):
    if os.geteuid() == 0:
        target = tmp_path / "file-not-dir" / "x.json"
        (tmp_path / "file-not-dir").write_text("")
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        target = tmp_path / "ro" / "x.json"
    with pytest.raises(OSError):
        write_atomic(target, "{}")


def test_written_file_has_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        out = write_atomic(tmp_path / "r.md", "# hi\n")
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644
