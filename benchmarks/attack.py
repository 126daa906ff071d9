"""Attack cases: nas-edge used as a hostile or unlucky user would, per category; prints cases tried / held.

    python benchmarks/attack.py                 # the quick cases (a few minutes on 2 cores)
    python benchmarks/attack.py --slow          # also the multi-process, training and PostgreSQL cases
    python benchmarks/attack.py --write         # and put the table into benchmarks/README.md

A case *holds* when nas-edge does what its contract says: an expected failure is one ``error:`` line and exit
code 1 (Ctrl-C 130) with nothing half-written; a success is exit 0 with correct, safe output (no control
characters or live markup from names, no code run from a study file, nothing lost from a storage, bounded
memory). Every case runs the installed ``nas-edge`` command (or the library) on files made here, in a temp
folder. The cases that reproduce the defects of issue 12 are named with the item they test.

Cases that need root (a private host name or tmpfs: ``unshare``) or PostgreSQL are skipped without them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
EXE = str(Path(sys.executable).parent / "nas-edge")
CATEGORIES = ("hardware YAML", "ONNX", "data", "storages and signals", "export and reports", "resource use")
MARKERS = ("<!-- attack-table:start -->", "<!-- attack-table:end -->")


class Skip(Exception):
    """The case cannot run here (no root for unshare, no PostgreSQL)."""


@dataclass
class Case:
    category: str
    name: str
    run: Callable[[Path], None]
    slow: bool = False


CASES: list[Case] = []


def case(category: str, name: str, *, slow: bool = False) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    assert category in CATEGORIES, category

    def register(fn: Callable[[Path], None]) -> Callable[[Path], None]:
        CASES.append(Case(category, name, fn, slow))
        return fn

    return register


# -- helpers ----------------------------------------------------------------------------------------------------

@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    maxrss_mb: float


def nas(*args: str, cwd: Path | None = None, timeout: float = 600, limit_as_gb: float | None = None,
        file_limit: int | None = None, env: dict[str, str] | None = None) -> Result:
    """Run ``nas-edge ARGS``; its peak memory from ``wait4`` (``limit_as_gb`` caps its address space)."""

    def limits() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if limit_as_gb:
            cap = int(limit_as_gb * (1 << 30))
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        if file_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([EXE, *args], cwd=cwd, stdout=out, stderr=err, preexec_fn=limits,
                             env={**os.environ, "COLUMNS": "200", **(env or {})})
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                pid, status, usage = os.wait4(p.pid, 0)
                break
            time.sleep(0.02)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Result(p.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                      usage.ru_maxrss / 1024)


def one_line(r: Result, *needles: str, code: int = 1) -> None:
    """An expected failure: exit ``code``, one error line naming what was wrong, no traceback."""
    assert "Traceback" not in r.stderr, r.stderr[-1500:]
    assert r.returncode == code, (r.returncode, r.stderr[-800:])
    lines = [x for x in r.stderr.splitlines() if x.startswith(("error:", "invalid"))]
    assert len(lines) == 1, r.stderr[-800:]
    for n in needles:
        assert n in lines[0], (n, lines[0])
    _no_control(r)


def ok(r: Result) -> None:
    assert "Traceback" not in r.stderr, r.stderr[-1500:]
    assert r.returncode == 0, (r.returncode, r.stderr[-800:])
    _no_control(r)


def _no_control(r: Result) -> None:
    bad = [c for c in r.stdout + r.stderr if (ord(c) < 32 and c not in "\n\r\t") or 0x7f <= ord(c) <= 0x9f]
    assert not bad, f"control characters reached the terminal: {bad[:5]!r}"


SEARCH_FAST = ("--trials", "1", "--objectives", "params,energy_uj", "--sampler", "random", "--no-progress")


def yaml_file(d: Path, name: str, text: str) -> Path:
    path = d / name
    path.write_text(text)
    return path


MARKUP = "evil[/][link=https://e.x]x[/link]"
EVIL = MARKUP + "\x1b[31mred\x1b]8;;https://e.x\x07\nok"


def evil_profile(d: Path, name: str = MARKUP) -> Path:
    return yaml_file(d, "evil.yaml", f"name: {json.dumps(name)}\nbase: neurosim-rram-22nm\n")


def onnx_file(d: Path, name: str, model: object) -> Path:
    import onnx

    path = d / name
    onnx.save(model, path)  # type: ignore[arg-type]
    return path


def small_study(d: Path, storage: str | None = None, study: str = "s", trials: int = 3) -> str:
    url = storage or f"sqlite:///{d / 'study.db'}"
    ok(nas("search", "--storage", url, "--study-name", study, "--trials", str(trials), "--objectives",
           "params,energy_uj", "--sampler", "random", "--no-progress", cwd=d))
    return url


def unshare(flag: str) -> None:
    if subprocess.run(["unshare", flag, "true"], capture_output=True, check=False).returncode:
        raise Skip(f"unshare {flag} needs root")


@contextlib.contextmanager
def tmpfs(d: Path, size: str = "16k") -> Iterator[Callable[[str], subprocess.CompletedProcess[str]]]:
    """A shell runner whose ``$D`` is a private tmpfs of ``size`` (root)."""
    unshare("-m")
    mnt = d / "mnt"
    mnt.mkdir()

    def sh(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size={size} tmpfs {mnt} && {script}"],
                              env={**os.environ, "D": str(mnt), "NE": EXE}, capture_output=True, text=True,
                              timeout=600, check=False)

    yield sh


# -- hardware YAML ----------------------------------------------------------------------------------------------

H = "hardware YAML"


@case(H, "alias bomb (billion laughs)")
def _(d: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
              for i in range(1, 9)]
    one_line(nas("hardware", "validate", str(yaml_file(d, "bomb.yaml", "\n".join(lines) + "\n"))), "expands")


@case(H, "python object tag")
def _(d: Path) -> None:
    p = yaml_file(d, "tag.yaml", "name: !!python/object/apply:os.system ['touch pwned']\n")
    one_line(nas("hardware", "validate", str(p), cwd=d))
    assert not (d / "pwned").exists()


@case(H, "file over the size cap")
def _(d: Path) -> None:
    one_line(nas("hardware", "validate", str(yaml_file(d, "big.yaml", "# x\n" * 400_000))), "larger than")


@case(H, "base cycle")
def _(d: Path) -> None:
    yaml_file(d, "b.yaml", "base: a.yaml\nname: b\n")
    one_line(nas("hardware", "validate", str(yaml_file(d, "a.yaml", "base: b.yaml\nname: a\n")), cwd=d))


@case(H, "not a mapping, empty, not UTF-8, a directory, missing")
def _(d: Path) -> None:
    for name, data in (("list.yaml", b"- 1\n- 2\n"), ("empty.yaml", b""), ("latin.yaml", b"name: \xe9\xff\n")):
        (d / name).write_bytes(data)
        one_line(nas("hardware", "validate", str(d / name)))
    (d / "dir.yaml").mkdir()
    one_line(nas("hardware", "validate", str(d / "dir.yaml")))
    one_line(nas("hardware", "validate", str(d / "absent.yaml")))


@case(H, "negative and zero sizes")
def _(d: Path) -> None:
    neg = yaml_file(d, "neg.yaml", "base: neurosim-rram-22nm\narray: {rows: -128}\n")
    one_line(nas("hardware", "validate", str(neg)), "rows")
    one_line(nas("hardware", "validate", str(yaml_file(d, "zero.yaml", "base: neurosim-rram-22nm\nclock_ghz: 0\n"))))


@case(H, "markup in a profile name: validate, show (12.7)")
def _(d: Path) -> None:
    for cmd in ("validate", "show"):
        r = nas("hardware", cmd, str(evil_profile(d)))
        ok(r)
        assert "[/][link=https://e.x]" in r.stdout


@case(H, "ANSI escapes and newlines in a profile name: validate, show, search (12.16)")
def _(d: Path) -> None:
    for cmd in (("hardware", "validate"), ("hardware", "show"), ("search", "--storage", str(d / "s.log"),
                                                                  *SEARCH_FAST, "--hardware")):
        r = nas(*cmd, str(evil_profile(d, EVIL)), cwd=d)
        one_line(r, "control characters")
        assert "\\x1b" in r.stderr


@case(H, "markup in a missing profile's name (12.7)")
def _(d: Path) -> None:
    one_line(nas("hardware", "validate", "evil[/]"), "evil[/]")


@case(H, ".inf energy or clock validates and costs inf (12.9)")
def _(d: Path) -> None:
    for field in ("clock_ghz: .inf", "energy: {cell_read_pj: .inf}", "clock_ghz: .nan"):
        p = yaml_file(d, "inf.yaml", f"base: neurosim-rram-22nm\n{field}\n")
        one_line(nas("hardware", "validate", str(p)))


@case(H, "huge integers validate, then divide by zero (12.9)")
def _(d: Path) -> None:
    p = yaml_file(d, "huge.yaml", f"base: neurosim-rram-22nm\narray: {{rows: {10**30}, cols: {10**30}}}\n")
    one_line(nas("hardware", "validate", str(p)))


@case(H, "relative base resolved against the working directory (12.9)")
def _(d: Path) -> None:
    (d / "chips").mkdir()
    yaml_file(d / "chips", "base.yaml", "base: neurosim-rram-22nm\nname: right-base\nadc: {bits: 5}\n")
    yaml_file(d, "base.yaml", "base: neurosim-rram-22nm\nname: wrong-base\nadc: {bits: 7}\n")
    child = yaml_file(d / "chips", "child.yaml", "base: base.yaml\nname: child\n")
    r = nas("hardware", "show", str(child), "--json", cwd=d)
    ok(r)
    assert json.loads(r.stdout)["adc"]["bits"] == 5, "base: resolved against the working directory"


@case(H, "base: /etc/shadow echoes the file (12.16)")
def _(d: Path) -> None:
    # a file that is not a profile, whose first line parses as a field the error message quotes
    secret = yaml_file(d, "secret.txt", "technology_nm: root:$6$SECRETHASH:19000:0:99999:7:::\n")
    r = nas("hardware", "validate", str(yaml_file(d, "leak.yaml", f"base: {secret}\nname: x\n")))
    one_line(r)
    assert "SECRETHASH" not in r.stderr + r.stdout


@case(H, "profile command with an evil profile name (12.7)")
def _(d: Path) -> None:
    from test_onnx_adapter_helpers import conv_model

    model = onnx_file(d, "m.onnx", conv_model(4, 8, 8))
    ok(nas("profile", str(model), "-H", str(evil_profile(d)), "-H", "mobile-cpu-a78"))


@case(H, "schema --out onto a directory, a fifo (12.13)")
def _(d: Path) -> None:
    (d / "dir").mkdir()
    os.mkfifo(d / "fifo")
    one_line(nas("hardware", "schema", "--out", str(d / "dir")), "is a directory")
    one_line(nas("hardware", "schema", "--out", str(d / "fifo")), "not a regular file")
    assert (d / "fifo").is_fifo()


@case(H, "schema --out onto a full and a read-only disk (12.13)")
def _(d: Path) -> None:
    with tmpfs(d) as sh:
        r = sh('head -c 20000 /dev/zero > $D/f 2>/dev/null; "$NE" hardware schema --out $D/s.json; echo "rc=$?"; '
               'mount -o remount,ro $D; "$NE" hardware schema --out $D/t.json; echo "rc=$?"')
    assert r.stdout.split() == ["rc=1", "rc=1"], (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr and len(lines) == 2, lines
    assert "No space left" in lines[0] and "Read-only" in lines[1], lines


# -- ONNX -------------------------------------------------------------------------------------------------------

OX = "ONNX"


@case(OX, "random bytes, truncated, empty, a directory")
def _(d: Path) -> None:
    from test_onnx_adapter_helpers import conv_model

    data = conv_model().SerializeToString()
    (d / "rand.onnx").write_bytes(os.urandom(4096))
    (d / "trunc.onnx").write_bytes(data[: len(data) // 2])
    (d / "empty.onnx").write_bytes(b"")
    (d / "dir.onnx").mkdir()
    for name in ("rand.onnx", "trunc.onnx", "empty.onnx", "dir.onnx", "absent.onnx"):
        one_line(nas("profile", str(d / name), "-H", "neurosim-rram-22nm"))


@case(OX, "external data pointing outside the model's folder")
def _(d: Path) -> None:
    import onnx
    from test_onnx_adapter_helpers import conv_model

    secret = d / "secret.bin"
    secret.write_bytes(b"\x00" * 4096)
    (d / "model").mkdir()
    for location in ("../secret.bin", str(secret), "/etc/passwd"):
        m = conv_model(4, 8, 8)
        w = m.graph.initializer[0]
        w.ClearField("raw_data")
        w.ClearField("float_data")
        w.data_location = onnx.TensorProto.EXTERNAL
        w.external_data.add(key="location", value=location)
        r = nas("profile", str(onnx_file(d / "model", "m.onnx", m)), "-H", "neurosim-rram-22nm", "--json")
        assert "Traceback" not in r.stderr and r.returncode in (0, 1), r.stderr[-800:]
        assert "root:" not in r.stdout + r.stderr


@case(OX, "cyclic graph")
def _(d: Path) -> None:
    from onnx import helper
    from test_onnx_adapter_helpers import make, vi

    nodes = [helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])]
    r = nas("profile", str(onnx_file(d, "cyc.onnx", make(nodes, [vi("x", [1, 4])], [vi("b", [1, 4])]))), "-H",
            "neurosim-rram-22nm")
    assert "Traceback" not in r.stderr and r.returncode in (0, 1), r.stderr[-800:]


@case(OX, "markup and escapes in node names (12.7)")
def _(d: Path) -> None:
    from test_onnx_adapter_helpers import conv_model

    m = conv_model(4, 8, 8)
    m.graph.node[0].name = EVIL
    path = onnx_file(d, "evil.onnx", m)
    ok(nas("profile", str(path), "-H", "neurosim-rram-22nm"))
    r = nas("profile", str(path), "-H", "neurosim-rram-22nm", "--md")
    ok(r)
    assert "[link=" not in r.stdout.replace("\\[link=", "")


@case(OX, "a weight of (2^63-1) x 1: int64 overflow reported as 0 MACs (12.10)")
def _(d: Path) -> None:
    from onnx import helper
    from test_onnx_adapter_helpers import make, vi

    w = helper.make_tensor_value_info("w", 1, [2**63 - 1, 1])
    m = make([helper.make_node("MatMul", ["x", "w"], ["y"])], [vi("x", [1, 2**63 - 1]), w], [vi("y", None)])
    r = nas("profile", str(onnx_file(d, "huge.onnx", m)), "-H", "neurosim-rram-22nm", "--json")
    assert "Traceback" not in r.stderr, r.stderr[-800:]
    if r.returncode == 0:
        assert json.loads(r.stdout)["summary"]["macs"] > 0, "0 MACs with exit 0"
    else:
        one_line(r)


@case(OX, "negative dimensions (12.10)")
def _(d: Path) -> None:
    from test_onnx_adapter_helpers import conv_model

    m = conv_model(4, 8, 8)
    m.graph.input[0].type.tensor_type.shape.dim[2].dim_value = -8
    one_line(nas("profile", str(onnx_file(d, "neg.onnx", m)), "-H", "neurosim-rram-22nm"))


@case(OX, "a huge --input-shape and --batch 2^63-1 (12.10)")
def _(d: Path) -> None:
    from test_onnx_adapter_helpers import conv_model

    path = onnx_file(d, "m.onnx", conv_model(4, 8, 8, batch="N"))
    one_line(nas("profile", str(path), "-H", "neurosim-rram-22nm", "--input-shape", f"x={2**62}x4x8x8"))
    one_line(nas("profile", str(path), "-H", "neurosim-rram-22nm", "--batch", str(2**63 - 1)))


@case(OX, "--input-shape garbage")
def _(d: Path) -> None:
    from test_onnx_adapter_helpers import conv_model

    path = onnx_file(d, "m.onnx", conv_model(4, 8, 8, batch="N"))
    for shape in ("x=axb", "x=1x-3x8x8", "=1", "nope=1x4x8x8"):
        one_line(nas("profile", str(path), "-H", "neurosim-rram-22nm", "--input-shape", shape))


# -- data -------------------------------------------------------------------------------------------------------

D = "data"


def npz(d: Path, name: str, **arrays: object) -> Path:
    import numpy as np

    path = d / name
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def images(n: int, seed: int = 0) -> tuple:
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 1, 8, 8)).astype("float32"), rng.integers(0, 3, n)


@case(D, "NaN images, mismatched lengths, missing arrays, a pickle, negative token ids")
def _(d: Path) -> None:
    import numpy as np

    x, y = images(40)
    bad = x.copy()
    bad[3, 0, 0, 0] = np.nan
    files = [npz(d, "nan.npz", x_train=bad[:30], y_train=y[:30], x_val=x[30:], y_val=y[30:]),
             npz(d, "len.npz", x_train=x[:30], y_train=y[:20], x_val=x[30:], y_val=y[30:]),
             npz(d, "missing.npz", x_train=x[:30], y_train=y[:30]),
             npz(d, "pickle.npz", x_train=np.array([object()] * 3, dtype=object), y_train=y[:3], x_val=x[:3],
                 y_val=y[:3]),
             npz(d, "tokens.npz", x_train=-np.ones((30, 5), "int64"), y_train=y[:30], x_val=np.ones((10, 5), "int64"),
                 y_val=y[30:])]
    for f in files:
        one_line(nas("search", "--data", str(f), "--storage", f"sqlite:///{d / 's.db'}", *SEARCH_FAST, cwd=d),
                 str(f.name))
    assert not (d / "s.db").exists()


@case(D, "one label of 5e7; a uint64 label 2^64-1 (12.11)")
def _(d: Path) -> None:
    x, y = images(60)
    for name, label, dtype in (("big.npz", 50_000_000, "int64"), ("u64.npz", 2**64 - 1, "uint64")):
        yy = y.astype(dtype)
        yy[5] = label
        f = npz(d, name, x_train=x[:50], y_train=yy[:50], x_val=x[50:], y_val=yy[50:])
        one_line(nas("search", "--data", str(f), "--storage", f"sqlite:///{d / 's.db'}", *SEARCH_FAST, cwd=d))


@case(D, "a dataset function whose __len__ / __getitem__ raises, or that calls sys.exit(0) (12.12)")
def _(d: Path) -> None:
    (d / "hostile_ds.py").write_text(textwrap.dedent("""
        import sys, torch
        class Items:
            def __init__(self, fail): self.fail = fail
            def __len__(self):
                if self.fail == "len": raise OSError("no files")
                return 4
            def __getitem__(self, i):
                if self.fail == "item": raise KeyError(i)
                if self.fail == "exit": sys.exit(0)
                return torch.zeros(1, 4, 4), i % 2
        def bad_len(): return Items("len"), Items(None)
        def bad_item(): return Items("item"), Items(None)
        def exits(): return Items("exit"), Items(None)
        def exits_now(): sys.exit(0)
    """))
    for func in ("bad_len", "bad_item", "exits", "exits_now"):
        one_line(nas("search", "--data", f"hostile_ds:{func}", "--storage", f"sqlite:///{d / 's.db'}", *SEARCH_FAST,
                     cwd=d, env={"PYTHONPATH": str(d)}))


@case(D, "a study file whose dataset is module:function: report and export run it (12.3)")
def _(d: Path) -> None:
    import optuna

    url = small_study(d)
    study = optuna.load_study(study_name="s", storage=url)
    meta = dict(study.user_attrs["nas_edge"])
    meta["data"] = {**meta["data"], "name": "tempfile:mkdtemp"}
    study.set_user_attr("nas_edge", meta)
    tmp = d / "tmpdir"
    tmp.mkdir()
    ok(nas("report", "--storage", url, "--study-name", "s", "--out", str(d / "r"), env={"TMPDIR": str(tmp)}))
    r = nas("export", "--storage", url, "--study-name", "s", "--out", str(d / "x"), env={"TMPDIR": str(tmp)})
    one_line(r, "cannot make nas-edge run code")
    assert not [p for p in tmp.iterdir() if p.is_dir()], "tempfile:mkdtemp ran"


@case(D, "200 samples, --epochs 1: 4 training steps in all (12.6)", slow=True)
def _(d: Path) -> None:
    x, y = images(250)
    f = npz(d, "small.npz", x_train=x[:200], y_train=y[:200], x_val=x[200:], y_val=y[200:])
    ok(nas("search", "--data", str(f), "--storage", f"sqlite:///{d / 's.db'}", "--trials", "1", "--objectives",
           "accuracy,energy_uj", "--epochs", "1", "--sampler", "random", "--no-progress", cwd=d))


@case(D, "digits x 3e38 trains to chance with exit 0 (12.11)", slow=True)
def _(d: Path) -> None:
    import optuna
    from sklearn.datasets import load_digits

    b = load_digits()
    x = (b.images[:, None] / 16.0 * 3e38).astype("float32")
    f = npz(d, "big.npz", x_train=x[:1400], y_train=b.target[:1400], x_val=x[1400:], y_val=b.target[1400:])
    url = f"sqlite:///{d / 's.db'}"
    r = nas("search", "--data", str(f), "--storage", url, "--trials", "1", "--objectives", "accuracy,energy_uj",
            "--epochs", "3", "--sampler", "random", "--no-progress", cwd=d)
    ok(r)
    acc = optuna.load_study(study_name="nas-edge", storage=url).trials[0].values[0]
    assert acc > 0.3, f"accuracy {acc}"


# -- storages and signals ---------------------------------------------------------------------------------------

S = "storages and signals"


@case(S, "a password in a storage URL: search, export, report (12.15)")
def _(d: Path) -> None:
    url = "postgresql+psycopg2://nas:s3cr3t-pw@127.0.0.1:1/nas"
    for cmd in (["search", *SEARCH_FAST], ["export", "--out", "x"], ["report", "--out", "x"]):
        r = nas(*cmd, "--storage", url, cwd=d)
        one_line(r)
        assert "s3cr3t" not in r.stdout + r.stderr


@case(S, "storage paths that cannot work")
def _(d: Path) -> None:
    (d / "dir.log").mkdir()
    for url in (str(d / "dir.log"), f"sqlite:///{d}/absent/s.db", str(d / "absent" / "j.log"), "nonsense"):
        one_line(nas("search", "--storage", url, *SEARCH_FAST, cwd=d))


@case(S, "a torn journal record, then the documented rerun (12.2)")
def _(d: Path) -> None:
    import optuna

    from nas_edge.search import open_storage

    log = str(d / "j.log")
    small_study(d, log, trials=3)
    os.truncate(log, os.path.getsize(log) - 37)
    ok(nas("search", "--storage", log, "--study-name", "s", "--trials", "5", "--objectives", "params,energy_uj",
           "--sampler", "random", "--no-progress", cwd=d))
    ok(nas("report", "--storage", log, "--study-name", "s", "--out", str(d / "r")))
    study = optuna.load_study(study_name="s", storage=open_storage(log))
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 5


@case(S, "the disk fills up mid-search: journal and SQLite (12.2, 12.13)")
def _(d: Path) -> None:
    for storage, path in ((str(d / "j.log"), d / "j.log"), (f"sqlite:///{d / 's.db'}", d / "s.db")):
        small_study(d, storage, trials=2)
        r = nas("search", "--storage", storage, "--study-name", "s", "--trials", "40", "--objectives",
                "params,energy_uj", "--sampler", "random", "--no-progress", cwd=d,
                file_limit=path.stat().st_size + 3000)
        one_line(r)
        small_study(d, storage, trials=3)  # readable, and the rerun goes on


@case(S, "Ctrl-C in a search (12.14)", slow=True)
def _(d: Path) -> None:
    import optuna

    url = f"sqlite:///{d / 's.db'}"
    p = subprocess.Popen([EXE, "search", "--storage", url, "--trials", "1", "--objectives", "accuracy,energy_uj",
                          "--epochs", "8", "--sampler", "random", "--no-progress"], cwd=d, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    while p.poll() is None:
        try:
            if [t for t in optuna.load_study(study_name="nas-edge", storage=url).trials if t.params]:
                break
        except KeyError:
            pass
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130 and "Traceback" not in err, (p.returncode, err[-800:])


@case(S, "three workers on a fresh SQLite file (12.4)", slow=True)
def _(d: Path) -> None:
    url = f"sqlite:///{d / 'fresh.db'}"
    procs = [subprocess.Popen([EXE, "search", "--storage", url, "--trials", "6", "--seed", str(s), "--objectives",
                               "params,energy_uj", "--sampler", "random", "--no-progress"], cwd=d,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for s in range(3)]
    errs = [p.communicate(timeout=600)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-300:] for e in errs]


@case(S, "three workers on a journal: exact budget", slow=True)
def _(d: Path) -> None:
    import optuna

    from nas_edge.search import open_storage

    log = str(d / "j.log")
    procs = [subprocess.Popen([EXE, "search", "--storage", log, "--trials", "9", "--seed", str(s), "--objectives",
                               "params,energy_uj", "--sampler", "random", "--no-progress"], cwd=d,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for s in range(3)]
    assert all(p.wait(timeout=600) == 0 for p in procs)
    study = optuna.load_study(study_name="nas-edge", storage=open_storage(log))
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 9


@case(S, "--timeout while waiting for a trial that never ends (12.5)")
def _(d: Path) -> None:
    import optuna

    from nas_edge.search import open_storage

    log = str(d / "j.log")
    small_study(d, log, study="nas-edge", trials=1)
    study = optuna.load_study(study_name="nas-edge", storage=open_storage(log))
    t = study.ask()  # a trial of a worker on another machine that hangs
    t.set_user_attr("worker", "another-machine:4242")
    t0 = time.monotonic()
    ok(nas("search", "--storage", log, "--trials", "2", "--timeout", "5", "--objectives", "params,energy_uj",
           "--sampler", "random", "--no-progress", cwd=d, timeout=120))
    assert time.monotonic() - t0 < 100


@case(S, "a suspended worker (SIGSTOP) blocks the others (12.5)", slow=True)
def _(d: Path) -> None:
    import optuna

    from nas_edge.search import open_storage

    log = str(d / "j.log")
    cmd = [EXE, "search", "--storage", log, "--trials", "2", "--objectives", "accuracy,energy_uj", "--epochs", "30",
           "--sampler", "random", "--no-progress"]
    sleeper = subprocess.Popen(cmd, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while True:
        with contextlib.suppress(KeyError):
            if [t for t in optuna.load_study(study_name="nas-edge", storage=open_storage(log)).trials if t.params]:
                break
        time.sleep(0.2)
    os.kill(sleeper.pid, signal.SIGSTOP)
    try:
        ok(nas(*cmd[1:], cwd=d, timeout=400))
    finally:
        os.kill(sleeper.pid, signal.SIGCONT)
    sleeper.communicate(timeout=600)
    assert sleeper.returncode == 0


@case(S, "a dead worker on another host, PostgreSQL (12.1)", slow=True)
def _(d: Path) -> None:
    unshare("-u")
    try:
        from pg_server import postgres_server
    except ImportError as exc:
        raise Skip(str(exc)) from None
    cmd = [EXE, "search", "--trials", "3", "--objectives", "accuracy,energy_uj", "--epochs", "30", "--sampler",
           "random", "--no-progress"]
    try:
        server = postgres_server()
        url = server.__enter__()
    except RuntimeError as exc:
        raise Skip(str(exc)) from None
    try:
        import optuna

        victim = subprocess.Popen(["unshare", "-u", "sh", "-c", 'hostname host-b && exec "$@"', "sh", *cmd,
                                   "--storage", url], cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            with contextlib.suppress(KeyError):
                if [t for t in optuna.load_study(study_name="nas-edge", storage=url).trials if t.params]:
                    break
            time.sleep(0.2)
        victim.kill()
        victim.wait()
        ok(nas(*cmd[1:], "--storage", url, cwd=d, timeout=500))
    finally:
        server.__exit__(None, None, None)


# -- export and reports -----------------------------------------------------------------------------------------

E = "export and reports"


@case(E, "a study name with HTML and Markdown: report.html and report.md (12.17)")
def _(d: Path) -> None:
    name = 'x <img src=x onerror=alert(1)> [a](javascript:alert(2)) <script>alert(3)</script>'
    url = small_study(d, study=name)
    ok(nas("report", "--storage", url, "--study-name", name, "--out", str(d / "r")))
    for f in ("report.html", "report.md"):
        text = (d / "r" / f).read_text()
        assert "<img" not in text and "<script" not in text, f
    assert not re.search(r"(?<!\\)\]\(javascript:", (d / "r" / "report.md").read_text()), "a live link"


@case(E, "markup and escapes in --out and in the study name: report, search (12.7)")
def _(d: Path) -> None:
    url = small_study(d, study="s[/]\x1b[2J")
    ok(nas("report", "--storage", url, "--study-name", "s[/]\x1b[2J", "--out", str(d / "out[/]x")))
    ok(nas("search", "--storage", url, "--study-name", "s[/]\x1b[2J", "--trials", "4", "--objectives",
           "params,energy_uj", "--sampler", "random", "--no-progress", cwd=d))


@case(E, "export selection errors and a missing database")
def _(d: Path) -> None:
    url = small_study(d)
    for args in (("--trial", "99"), ("--best", "accuracy"), ("--trial", "0", "--best", "params"),
                 ("--study-name", "nope"), ("--quantize", "int3")):
        one_line(nas("export", "--storage", url, "--out", str(d / "x"), *(("--study-name", "s") if
                                                                              "--study-name" not in args else ()),
                     *args))
    one_line(nas("export", "--storage", f"sqlite:///{d / 'absent.db'}", "--out", str(d / "x")))
    assert not (d / "absent.db").exists() and not (d / "x").exists()


@case(E, "export --out onto a file and onto a read-only disk")
def _(d: Path) -> None:
    url = small_study(d)
    (d / "file").write_text("")
    one_line(nas("export", "--storage", url, "--study-name", "s", "--out", str(d / "file")))
    with tmpfs(d) as sh:
        r = sh(f'mount -o remount,ro $D; "$NE" export --storage {url} --study-name s --out $D/x; echo "rc=$?"')
    assert r.stdout.split() == ["rc=1"] and len(r.stderr.strip().splitlines()) == 1, (r.stdout, r.stderr)


@case(E, "a re-export deletes the user's files in trial-N/ (12.18)")
def _(d: Path) -> None:
    from test_report import export_record

    from nas_edge.export._files import publish, staging
    from nas_edge.export.report import write_export_report

    dst = d / "out" / "trial-1"
    dst.mkdir(parents=True)
    write_export_report(dst, export_record())
    (dst / "notes.md").write_text("mine")
    with staging(d / "out") as tmp:
        (tmp / "trial-1").mkdir()
        (tmp / "trial-1" / "model.onnx").write_bytes(b"new")
        publish(tmp / "trial-1", dst)
    assert (dst / "notes.md").read_text() == "mine"


@case(E, "a user's model.onnx in trial-N/ is refused before training (12.18)")
def _(d: Path) -> None:
    import optuna

    url = small_study(d)
    n = optuna.load_study(study_name="s", storage=url).best_trials[0].number
    (d / "x" / f"trial-{n}").mkdir(parents=True)
    (d / "x" / f"trial-{n}" / "model.onnx").write_bytes(b"mine")
    one_line(nas("export", "--storage", url, "--study-name", "s", "--trial", str(n), "--out", str(d / "x")),
             "not written by nas-edge")
    assert (d / "x" / f"trial-{n}" / "model.onnx").read_bytes() == b"mine"


@case(E, "a report.json whose files point outside the folder")
def _(d: Path) -> None:
    from nas_edge.export._files import publish, staging

    victim = d / "victim.txt"
    victim.write_text("keep")
    dst = d / "out" / "trial-1"
    dst.mkdir(parents=True)
    (dst / "report.json").write_text(json.dumps({"schema": "nas-edge.export",
                                                 "files": [{"file": "../../victim.txt"}, {"file": str(victim)}]}))
    with staging(d / "out") as tmp:
        (tmp / "trial-1").mkdir()
        publish(tmp / "trial-1", dst)
    assert victim.read_text() == "keep"


@case(E, "a trial whose stored architecture is garbage")
def _(d: Path) -> None:
    import optuna

    url = small_study(d)
    study = optuna.load_study(study_name="s", storage=url)
    t = study.best_trials[0]
    study.add_trial(optuna.trial.create_trial(params=t.params, distributions=t.distributions, values=t.values,
                                              user_attrs={**t.user_attrs, "arch": {"space": "cnn", "stages": "<x>"}}))
    n = str(len(study.trials) - 1)
    one_line(nas("export", "--storage", url, "--study-name", "s", "--trial", n, "--out", str(d / "x")))


@case(E, "an edited hardware profile accepted on resume: one study, two chips (12.9)")
def _(d: Path) -> None:
    chip = yaml_file(d, "chip.yaml", "name: c\nbase: neurosim-rram-22nm\n")
    args = ("search", "--storage", f"sqlite:///{d / 's.db'}", "--hardware", str(chip), "--objectives",
            "params,energy_uj", "--sampler", "random", "--no-progress")
    ok(nas(*args, "--trials", "2", cwd=d))
    yaml_file(d, "chip.yaml", "name: c\nbase: neurosim-rram-22nm\nadc: {bits: 7}\n")
    one_line(nas(*args, "--trials", "3", cwd=d), "changed")


# -- resource use -----------------------------------------------------------------------------------------------

R = "resource use"


@case(R, "a 17 KB ONNX file whose constant folding materialises 4 GB (12.8)")
def _(d: Path) -> None:
    from test_onnx_hostile import folding_bomb

    path = onnx_file(d, "bomb.onnx", folding_bomb(2048, 256))  # a Sum of 2048 x 2048 x 256 int32: 4.3 GB
    assert path.stat().st_size < 20 * 1024
    # capped at 3 GB of address space for this machine's sake: a failed allocation would hide the blow-up,
    # so the case also asks for the warning that says the fold was skipped
    r = nas("profile", str(path), "-H", "neurosim-rram-22nm", limit_as_gb=3.0)
    ok(r)
    # the warning is part of the report: on stderr beside a terminal table, in the plain text of a pipe
    assert "constant folding skipped at Sum" in r.stdout + r.stderr, (r.stdout + r.stderr)[-500:]
    assert r.maxrss_mb < 1024, f"peak memory {r.maxrss_mb:.0f} MB"


@case(R, "a dataset with 10^9 classes would make a 10^9-output layer (12.11)")
def _(d: Path) -> None:
    x, y = images(40)
    y[0] = 10**9
    f = npz(d, "classes.npz", x_train=x[:30], y_train=y[:30], x_val=x[30:], y_val=y[30:])
    r = nas("search", "--data", str(f), "--storage", f"sqlite:///{d / 's.db'}", *SEARCH_FAST, cwd=d,
            limit_as_gb=6.0)
    one_line(r)
    assert r.maxrss_mb < 2048


@case(R, "--trials 10^9 with --timeout 3 returns")
def _(d: Path) -> None:
    t0 = time.monotonic()
    ok(nas("search", "--storage", f"sqlite:///{d / 's.db'}", "--trials", str(10**9), "--timeout", "3",
           "--objectives", "params,energy_uj", "--sampler", "random", "--no-progress", cwd=d, timeout=300))
    assert time.monotonic() - t0 < 200


@case(R, "profile of a huge --input-shape stays bounded (12.10)")
def _(d: Path) -> None:
    from test_onnx_adapter_helpers import conv_model

    path = onnx_file(d, "m.onnx", conv_model(4, 8, 8, batch="N"))
    r = nas("profile", str(path), "-H", "neurosim-rram-22nm", "--input-shape", "x=1x4x200000x200000",
            limit_as_gb=3.0)
    assert "Traceback" not in r.stderr and r.returncode in (0, 1), r.stderr[-800:]
    assert r.maxrss_mb < 1024


# -- the run ----------------------------------------------------------------------------------------------------

def run_cases(cases: list[Case]) -> list[tuple[Case, str, str]]:
    """``(case, outcome, detail)`` with outcome held / FAILED / skipped."""
    results = []
    for c in cases:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="nas-edge-attack-") as tmp:
            try:
                c.run(Path(tmp))
                outcome, detail = "held", ""
            except Skip as exc:
                outcome, detail = "skipped", str(exc)
            except Exception as exc:  # an assertion (the contract broke) or an unexpected crash of the case
                outcome = "FAILED"
                detail = (str(exc) or type(exc).__name__).splitlines()[0][:300]
                if not isinstance(exc, AssertionError):
                    detail = f"{type(exc).__name__}: {detail} ({traceback.extract_tb(exc.__traceback__)[-1].lineno})"
        print(f"{outcome:8s} {time.perf_counter() - t0:6.1f} s  [{c.category}] {c.name}"
              + (f"\n         {detail}" if detail else ""), flush=True)
        results.append((c, outcome, detail))
    return results


def table(results: list[tuple[Case, str, str]]) -> str:
    lines = ["| category | cases tried | held | failed | skipped | failed cases |", "|---|---:|---:|---:|---:|---|"]
    for cat in CATEGORIES:
        rows = [(c, o) for c, o, _ in results if c.category == cat]
        failed = [c.name for c, o in rows if o == "FAILED"]
        tried = [r for r in rows if r[1] != "skipped"]
        lines.append(f"| {cat} | {len(tried)} | {sum(o == 'held' for _, o in rows)} | {len(failed)} | "
                     f"{sum(o == 'skipped' for _, o in rows)} | {'; '.join(failed) or '–'} |")
    tried = [r for r in results if r[1] != "skipped"]
    lines.append(f"| **all** | **{len(tried)}** | **{sum(o == 'held' for _, o, _ in results)}** | "
                 f"**{sum(o == 'FAILED' for _, o, _ in results)}** | {sum(o == 'skipped' for _, o, _ in results)} | |")
    return "\n".join(lines)


def write_readme(text: str) -> None:
    path = ROOT / "benchmarks" / "README.md"
    doc = path.read_text()
    start, end = doc.index(MARKERS[0]) + len(MARKERS[0]), doc.index(MARKERS[1])
    path.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slow", action="store_true", help="also the multi-process, training and PostgreSQL cases")
    ap.add_argument("--only", help="cases whose category or name contains this text")
    ap.add_argument("--write", action="store_true", help="write the table into benchmarks/README.md")
    args = ap.parse_args()
    cases = [c for c in CASES if (args.slow or not c.slow)
             and (not args.only or args.only in c.category or args.only in c.name)]
    t0 = time.perf_counter()
    results = run_cases(cases)
    load = os.getloadavg()[0]
    flag = " --slow" if args.slow else ""
    text = table(results) + (f"\n\n{len(results)} cases in {time.perf_counter() - t0:.0f} s, load {load:.1f}, "
                             f"{time.strftime('%Y-%m-%d')}: `python benchmarks/attack.py{flag}`")
    print("\n" + text)
    if args.write:
        write_readme(text)


if __name__ == "__main__":
    main()
