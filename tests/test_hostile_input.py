"""The output contract under hostile input (issue 20).

Every case below must give exit code 2, exactly one line on stderr naming the input and
what is allowed, nothing on stdout, and nothing created or changed on disk; everything is
checked before any work starts. Most cases call ``sim.interfaces.cli.main`` in-process; real
processes are used where a real process is the point (kill -9, two sweeps at once, a FIFO
that would block a reader). Sweeps here are tiny (200 SMEs, 2 months).
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import stat
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import sim.experiments.replications
import sim.experiments.sweeps as sweeps
import sim.interfaces.cli
import sim.outputs
from sim.outputs import LOCK_NAME, lock_holder
from sim.parameters import REGISTRY
from sim.scenario import ScenarioError, load_scenario, parse_override

#: The base scenario of the sweeps here: the registry defaults at a tiny size, written next
#: to each sweep file (so that these tests do not depend on the repository's scenarios).
BASE = "[run]\nn_smes = 200\nhorizon = 2\nburn_in = 0\n"

#: A valid scenario with risk shares below the 国办发〔2019〕6号 floors: it has warnings.
WARN = (
    "[guarantor]\nshare = 1.0\n[reguarantor]\nshare = 0.0\n[national_fund]\nshare = 0.0\n"
    "[bank]\nshare = 0.0\n[comp_fund]\nshare = 0.0\n[run]\nn_smes = 200\nhorizon = 2\n"
    "burn_in = 0\n"
)
TINY_SET = '\n[set]\n"run.n_smes" = {n}\n"run.horizon" = {h}\n"run.burn_in" = 0\n'


def write_sweep(path: Path, *, seed=1, values=(0.01, 0.02), reps=1, n=200, h=2, head=""):
    """A grid sweep over credit.pd on ``base.toml`` (written beside it; tiny runs by default)."""
    (path.parent / "base.toml").write_text(BASE, encoding="utf-8")
    text = (
        f'base = "base.toml"\ndesign = "grid"\nreplications = {reps}\nseed = {seed}\n{head}'
        + TINY_SET.format(n=n, h=h)
        + f'\n[parameters]\n"credit.pd" = {{ values = [{", ".join(map(str, values))}] }}\n'
    )
    path.write_text(text, encoding="utf-8")
    return path


class Reached(Exception):
    """Raised by a stub of the work itself: validation let the input through."""


@pytest.fixture
def no_work(monkeypatch):
    """Any model run, replication or sweep execution fails the test loudly."""

    def stop(*args, **kwargs):
        raise Reached("work started")

    monkeypatch.setattr(sim.experiments.replications, "run_replications", stop)
    monkeypatch.setattr(sim.experiments.replications, "compare", stop)
    monkeypatch.setattr(sweeps.sweep, "execute", stop)  # as Sweep.run calls it


def gsim(capsys, *args) -> tuple[int, str, str]:
    """``sim.interfaces.cli.main(args)`` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = sim.interfaces.cli.main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def gsim_process(*args, timeout=120) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "sim.interfaces.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout, proc.stderr


def refused(result, *needles) -> str:
    """Assert the bad-input contract of a result; return its one line."""
    code, out, err = result
    assert code == 2, result
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr: {err!r}"
    assert lines[0].startswith("gsim") and "error" in lines[0], lines[0]
    assert "Traceback" not in err + out and out == "", result
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def snapshot(root: Path) -> dict[str, bytes | int | None]:
    """Every path under ``root``: file bytes, None for folders, the mode for other kinds."""
    found = {}
    for p in sorted(root.rglob("*")):
        mode = p.lstat().st_mode
        if stat.S_ISREG(mode):
            found[str(p.relative_to(root))] = p.read_bytes()
        else:
            found[str(p.relative_to(root))] = None if stat.S_ISDIR(mode) else mode
    return found


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ============================================================================ 1. design size
RANGES = '"credit.pd" = {low = 0.01, high = 0.02}\n"information.sharing" = {low = 0, high = 1}\n'
HUGE_GRID = (
    '"credit.pd" = {low = 0.01, high = 0.02, levels = 1000000}\n'
    '"information.sharing" = {low = 0, high = 1, levels = 1000000}\n'
)


@pytest.mark.parametrize(
    ("design", "params", "needles"),
    [
        (
            'design = "grid"',
            HUGE_GRID,
            [
                "1,000,000,000,000 design points",
                "credit.pd 1,000,000 levels x information.sharing 1,000,000 levels",
                "at most 1,000,000 runs",
                "of memory",
            ],
        ),
        (
            'design = "sobol"\nsamples = 1000000',
            RANGES,
            ["4,000,000 design points", "samples = 1,000,000 over 2 parameters", "1,000,000 runs"],
        ),
        (
            'design = "morris"\nsamples = 600000',
            RANGES,
            ["1,800,000 design points", "1,000,000 runs"],
        ),
    ],
    ids=["grid", "sobol", "morris"],
)
def test_design_size_is_limited_before_anything_is_made(
    design, params, needles, tmp_path, capsys, no_work
):
    """Defect 1: the number of design points is computed from the level counts (or samples)
    before any point exists; above the limit the sweep is refused at once, with the figures."""
    (tmp_path / "base.toml").write_text(BASE, encoding="utf-8")
    f = tmp_path / "huge.toml"
    f.write_text(f'base = "base.toml"\n{design}\n\n[parameters]\n{params}', encoding="utf-8")
    before = snapshot(tmp_path)
    t0 = time.monotonic()
    line = refused(gsim(capsys, "sweep", f, "--out", tmp_path / "o", "-q"), str(f), *needles)
    assert time.monotonic() - t0 < 30, "the size check must come before the design is made"
    assert "design = " in line
    assert snapshot(tmp_path) == before
    with pytest.raises(ScenarioError, match="design points"):
        sweeps.load_sweep(f)


def test_design_memory_estimate_is_limited(tmp_path, capsys, monkeypatch, no_work):
    """A design under the run limit but over the memory limit is refused with the estimate
    and the limit in the message."""
    monkeypatch.setattr(sweeps.design, "memory_limit", lambda: 1 << 20)
    f = write_sweep(tmp_path / "s.toml", values=[0.01 + i / 1000 for i in range(20)], reps=10)
    line = refused(
        gsim(capsys, "sweep", f, "--out", tmp_path / "o", "-q"),
        "20 design points",
        "200 runs",
        "1.0 MiB",
    )
    assert "estimated" in line and "MiB of memory" in line
    assert not (tmp_path / "o").exists()


# ======================================================================= 2. one sweep per folder
def test_resume_refuses_another_sweeps_folder(tmp_path, capsys):
    """Defect 2: --resume into a folder made by another sweep (another seed and levels) is
    refused, naming both sweep files, and changes nothing; the same sweep resumes; --overwrite
    without --resume replaces the other sweep's results, never mixing the two."""
    a = write_sweep(tmp_path / "A.toml", seed=1, values=(0.01, 0.02))
    b = write_sweep(tmp_path / "B.toml", seed=2, values=(0.01, 0.03, 0.04))
    out = tmp_path / "o"
    code, stdout, err = gsim(capsys, "sweep", a, "--out", out, "--workers", "1", "-q")
    assert code == 0, err
    record = json.loads((out / "sweep.json").read_text())
    assert record["fingerprint"] == sweeps.fingerprint(sweeps.load_sweep(a))["fingerprint"]
    assert record["sweep_file"] == str(a)
    before = snapshot(out)

    line = refused(
        gsim(capsys, "sweep", b, "--out", out, "--resume", "--workers", "1", "-q"),
        f"--out {out}",
        str(a),
        str(b),
        "--resume",
    )
    assert "another sweep" in line
    assert snapshot(out) == before

    # the same sweep, copied under another name, resumes: nothing to run
    a2 = tmp_path / "A-copy.toml"
    a2.write_text(a.read_text())
    code, stdout, err = gsim(capsys, "sweep", a2, "--out", out, "--resume", "--workers", "1", "-q")
    assert code == 0, err
    assert "2 runs: 0 ran, 2 already finished, 0 failed" in stdout

    # --overwrite hands the folder to B: only B's runs and B's fingerprint remain
    code, stdout, err = gsim(capsys, "sweep", b, "--out", out, "--overwrite", "--workers", "1")
    assert code == 0, err
    specs_b = sweeps.plan_runs(sweeps.load_sweep(b))
    assert sorted(p.stem for p in (out / "runs").iterdir()) == sorted(s.run_id for s in specs_b)
    record = json.loads((out / "sweep.json").read_text())
    assert record["fingerprint"] == sweeps.fingerprint(sweeps.load_sweep(b))["fingerprint"]
    assert not (out / LOCK_NAME).exists()


def test_resume_refuses_a_folder_no_sweep_made(tmp_path, capsys, no_work):
    """A non-empty folder without sweep.json (made by `gsim run`, or by hand) is not resumed."""
    out = tmp_path / "o"
    out.mkdir()
    (out / "summary.parquet").write_bytes(b"PAR1 not a sweep's")
    f = write_sweep(tmp_path / "A.toml")
    before = snapshot(tmp_path)
    refused(gsim(capsys, "sweep", f, "--out", out, "--resume", "-q"), "no sweep.json", str(f))
    assert snapshot(tmp_path) == before


def test_fingerprint_covers_what_makes_the_runs(tmp_path):
    """The fingerprint changes with the base, the design, the replications and the seed, and
    not with the description or the outcomes."""
    fp = lambda path: sweeps.fingerprint(sweeps.load_sweep(path))["fingerprint"]  # noqa: E731
    ref = fp(write_sweep(tmp_path / "ref.toml"))
    same = write_sweep(
        tmp_path / "same.toml", head='description = "x"\noutcomes = ["default_rate"]\n'
    )
    assert fp(same) == ref
    assert fp(write_sweep(tmp_path / "s.toml", seed=2)) != ref
    assert fp(write_sweep(tmp_path / "v.toml", values=(0.01, 0.03))) != ref
    assert fp(write_sweep(tmp_path / "r.toml", reps=2)) != ref
    assert fp(write_sweep(tmp_path / "n.toml", n=300)) != ref


def _descendants(pid: int) -> set[int]:
    """Live (non-zombie) descendants of ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if text[0] not in (b"Z", b"X"):
            children.setdefault(int(text[1]), []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in (b"Z", b"X"):
            alive.add(pid)
    return alive


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_two_sweeps_one_folder_and_kill_9_leaves_no_workers(tmp_path, capsys, no_work):
    """Defect 2, in real processes: while `gsim sweep --workers 2` writes a folder, another
    sweep (--resume, another file or the same) is refused naming the lock holder's pid;
    kill -9 of the running sweep takes its pool workers down too, and leaves a stale lock."""
    slow = write_sweep(
        tmp_path / "slow.toml", values=[0.01 + i / 100 for i in range(8)], reps=2, n=50_000, h=60
    )
    other = write_sweep(tmp_path / "other.toml", seed=9)
    out = tmp_path / "o"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim.interfaces.cli",
            "sweep",
            str(slow),
            "--out",
            str(out),
            "--workers",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while time.monotonic() < deadline and proc.poll() is None:
            below = _descendants(proc.pid)
            workers = {p for p in below if p not in _children(proc.pid)}  # the pool's workers
            if lock_holder(out) == proc.pid and len(workers) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep ended before the checks"
        assert lock_holder(out) == proc.pid
        assert len(workers) >= 2, f"no pool workers seen: {workers}"

        for f in (other, slow):
            refused(
                gsim(capsys, "sweep", f, "--out", out, "--resume", "-q"),
                f"--out {out}",
                f"another gsim sweep (pid {proc.pid})",
            )
        refused(gsim(capsys, "sweep", other, "--out", out, "--overwrite", "-q"), "pid")
        assert proc.poll() is None, "the sweep ended before it could be killed"
        below = _descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 20
    while _alive(below) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(below), f"processes of the killed sweep still alive: {_alive(below)}"
    assert (out / LOCK_NAME).exists() and lock_holder(out) is None  # stale


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                found.add(int(entry))
    return found


@pytest.mark.parametrize("holder", ["dead", "live-unlocked", "empty"])
def test_stale_lock_is_taken_over(holder, tmp_path, capsys):
    """A lock file that no live process holds (its process was killed; its pid reused; or
    nothing written yet) is taken over by --resume, and removed when the sweep ends."""
    f = write_sweep(tmp_path / "A.toml")
    out = tmp_path / "o"
    code, _, err = gsim(capsys, "sweep", f, "--out", out, "--workers", "1", "-q")
    assert code == 0, err
    pid = {"dead": dead_pid(), "live-unlocked": os.getppid(), "empty": None}[holder]
    (out / LOCK_NAME).write_text("" if pid is None else f"{pid}\n")
    assert lock_holder(out) is None
    code, stdout, err = gsim(capsys, "sweep", f, "--out", out, "--resume", "--workers", "1", "-q")
    assert code == 0, err
    assert "2 already finished" in stdout
    assert not (out / LOCK_NAME).exists()


def test_folder_lock_excludes_a_second_holder(tmp_path):
    """FolderLock: a second acquire fails naming the holder's pid; release removes the file."""
    first = sim.outputs.FolderLock(tmp_path).acquire()
    try:
        assert lock_holder(tmp_path) == os.getpid()
        with pytest.raises(sim.outputs.OutputError, match=f"pid {os.getpid()}"):
            sim.outputs.FolderLock(tmp_path).acquire()
    finally:
        first.release()
    assert not (tmp_path / LOCK_NAME).exists()
    with sim.outputs.FolderLock(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())


def test_lock_file_is_never_followed_through_a_symlink(tmp_path, capsys, no_work):
    """A symlink planted as the lock file is refused (one line), and its target unchanged."""
    f = write_sweep(tmp_path / "A.toml")
    out = tmp_path / "o"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (out / LOCK_NAME).symlink_to(victim)
    refused(gsim(capsys, "sweep", f, "--out", out, "-q"), f"--out {out}", LOCK_NAME)
    assert victim.read_text() == "precious\n"


def test_pool_workers_watch_their_parent(tmp_path):
    """exit_with_parent: a worker whose parent is gone exits by itself."""
    code = (
        "import sys, time; from sim.experiments.replications import exit_with_parent; "
        f"exit_with_parent({dead_pid()}, interval=0.05); time.sleep(30); sys.exit(0)"
    )
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert proc.returncode == 1
    assert time.monotonic() - t0 < 20


# ============================================================================ 3. read-only --out
@pytest.mark.parametrize("command", ["sweep", "run"])
def test_read_only_out_folder_is_refused_before_work(
    command, tmp_path, capsys, monkeypatch, no_work
):
    """Defect 3: an existing, empty, read-only --out folder is refused before any work."""
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() == 0:  # root writes anyway: stand in for the permission check
        real = sim.outputs._can_write
        monkeypatch.setattr(sim.outputs, "_can_write", lambda p: Path(p) != out and real(p))
    try:
        if command == "sweep":
            args = ["sweep", write_sweep(tmp_path / "A.toml"), "-q"]
        else:
            (tmp_path / "s.toml").write_text(WARN)
            args = ["run", tmp_path / "s.toml", "-q"]
        before = snapshot(tmp_path)
        refused(gsim(capsys, *args, "--out", out), f"--out {out}", "not writable")
        assert snapshot(tmp_path) == before
    finally:
        out.chmod(0o755)


# ============================================================================ 4, 7. scheduler
@pytest.mark.parametrize(
    "address",
    [
        "not-a-url",
        "",
        "tcp://",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:0",
        "tcp://h:99999",
        "ftp://127.0.0.1:8786",
        "tcp://127.0.0.1:8786/path",
        "tcp://a b:1",
        "tcp://h:1\nx",
    ],
)
def test_bad_scheduler_address_is_refused(address, tmp_path, capsys, no_work):
    """Defect 4: an address that does not parse is bad input naming the allowed form, and no
    --out folder is created."""
    f = write_sweep(tmp_path / "A.toml")
    before = snapshot(tmp_path)
    refused(
        gsim(capsys, "sweep", f, "--out", tmp_path / "o", "--scheduler", address),
        "--scheduler",
        "SCHEME://HOST:PORT",
        "tcp://127.0.0.1:8786",
    )
    assert snapshot(tmp_path) == before


def test_unreachable_scheduler_is_refused_before_the_folder_is_made(tmp_path, capsys, no_work):
    """Defect 7: nobody listens at the address: bad input, fast, and no --out folder."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    f = write_sweep(tmp_path / "A.toml")
    before = snapshot(tmp_path)
    address = f"tcp://127.0.0.1:{port}"
    t0 = time.monotonic()
    refused(
        gsim(capsys, "sweep", f, "--out", tmp_path / "o", "--scheduler", address),
        f"--scheduler {address}",
        "cannot connect",
    )
    assert time.monotonic() - t0 < 15
    assert snapshot(tmp_path) == before


# ============================================================================ 5. --set
@pytest.mark.parametrize(
    "override",
    [
        "credit.pd=0.02\nrun.n_smes=50",
        "credit.pd=0.02\n[run]\nn_smes=50",
        "credit.pd=abc\ndef",
        "credit.pd=0.02\rrun.n_smes=50",
        "credit.pd=0.02 run.n_smes=50",
        "cre\ndit.pd=0.02",
    ],
)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_set_is_exactly_one_toml_value(override, command, tmp_path, capsys, no_work):
    """Defect 5: what follows a newline in --set is never dropped: the option is refused."""
    (tmp_path / "s.toml").write_text(WARN)
    extra = ["--out", tmp_path / "o", "-q"] if command == "run" else []
    before = snapshot(tmp_path)
    refused(gsim(capsys, command, tmp_path / "s.toml", "--set", override, *extra), "--set")
    assert snapshot(tmp_path) == before


def test_parse_override_reads_one_value():
    assert parse_override("credit.pd=0.02") == ("credit.pd", 0.02)
    assert parse_override("batch.mode=bank_led") == ("batch.mode", "bank_led")
    assert parse_override('shock.sectors=["transport",\n"catering"]') == (
        "shock.sectors",
        ["transport", "catering"],
    )
    with pytest.raises(ScenarioError, match="exactly one TOML value"):
        parse_override("credit.pd=0.02\nrun.n_smes=50")


# ======================================================================= 6. kernel file systems
def _mounted(point: str, fstype: str) -> bool:
    try:
        table = Path("/proc/self/mounts").read_text()
    except OSError:
        return False
    return any(line.split()[1:3] == [point, fstype] for line in table.splitlines())


@pytest.mark.parametrize(("out", "fstype"), [("/proc/x", "proc"), ("/sys/x", "sysfs")])
@pytest.mark.parametrize("command", ["run", "sweep"])
def test_out_on_a_kernel_file_system_is_one_line_before_work(
    out, fstype, command, tmp_path, capsys, no_work
):
    """Defect 6: --out /proc/x or /sys/x is refused before the run, in one line: the
    scenario's warnings are not printed before the error."""
    if not _mounted(out.rsplit("/", 1)[0], fstype):
        pytest.skip(f"no {fstype} mounted at {out.rsplit('/', 1)[0]}")
    (tmp_path / "s.toml").write_text(WARN)
    assert load_scenario(tmp_path / "s.toml").warnings, "the scenario must have warnings"
    f = tmp_path / "s.toml" if command == "run" else write_sweep(tmp_path / "A.toml")
    refused(gsim(capsys, command, f, "--out", out, "-q"), f"--out {out}", fstype)
    assert not Path(out).exists()


# ============================================================================ 8. messages
def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("command", ["validate", "run", "sweep"])
def test_fifo_is_not_a_regular_file(command, tmp_path):
    """Defect 8: a FIFO given as the scenario or sweep file is "not a regular file (a FIFO)",
    at once (reading it would block); in a real process, so that a hang times out."""
    fifo = _fifo(tmp_path / "s.toml")
    extra = ["--out", tmp_path / "o"] if command != "validate" else []
    refused(
        gsim_process(command, fifo, *extra, timeout=60),
        str(fifo),
        "not a regular file (a FIFO)",
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ('extends = "."\n', ["extends = '.'", "is a directory"]),
        ('extends = "/dev/zero"\n', ["extends = '/dev/zero'", "not a regular file", "device"]),
        ('extends = "sub"\n', ["extends = 'sub'", "is a directory"]),
        ('extends = "nope.toml"\n', ["extends = 'nope.toml'", "file not found"]),
    ],
    ids=["dot", "dev-zero", "folder", "missing"],
)
def test_extends_messages_name_the_input(text, needles, tmp_path, capsys):
    """Defect 8: extends names the value written in the file and says what the path is."""
    (tmp_path / "sub").mkdir()
    f = tmp_path / "s.toml"
    f.write_text(text)
    line = refused(gsim(capsys, "validate", f), str(f), *needles, "expected a scenario file")
    assert f"'{tmp_path.name}'" not in line and "'zero'" not in line


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ('base = "."\n', ["base = '.'", "is a directory", "expected a scenario file"]),
        ('base = "/dev/null"\n', ["base = '/dev/null'", "not a regular file"]),
        (
            'base = "base.toml"\n',
            ["credit.pd.values = []", "expected a non-empty list", "a number in"],
        ),
    ],
    ids=["base-dot", "base-dev-null", "empty-values"],
)
def test_sweep_messages_name_the_input(body, needles, tmp_path, capsys, no_work):
    """Defect 8 in sweep files: base says what the path is; values = [] asks for a non-empty
    list of allowed values."""
    (tmp_path / "base.toml").write_text(BASE, encoding="utf-8")
    f = tmp_path / "w.toml"
    f.write_text(body + '\n[parameters]\n"credit.pd" = { values = [] }\n')
    refused(gsim(capsys, "sweep", f, "--out", tmp_path / "o"), str(f), *needles)
    assert not (tmp_path / "o").exists()


def test_valid_sweep_passes_validation(tmp_path, capsys, no_work):
    """The stub of the work is reached by a valid sweep (so the cases above are refused by
    validation, not by the stub)."""
    f = write_sweep(tmp_path / "A.toml")
    code, _, err = gsim(capsys, "sweep", f, "--out", tmp_path / "o", "-q")
    assert code == 1 and "Reached" in err, err


# ============================================================================ property tests
KEYS = sorted(REGISTRY)
printable = st.text(string.printable, max_size=12)
scalar = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    printable,
    st.sampled_from([0, 1, 2, -1, 0.5, 1e6, "grid", "lhs", "sobol", "morris", "", "."]),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(printable, inner, max_size=3)
    ),
    max_leaves=6,
)
PATHS = [".", "/dev/zero", "/dev/null", "sub", "fifo", "nope.toml", "good.toml", "/proc"]


def _toml_key(key: str) -> str:
    return json.dumps(key)


def _toml(v) -> str:
    """A value as TOML text (floats and huge ints as TOML allows them)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml(x)}" for k, x in v.items()) + "}"


unit = st.one_of(st.floats(0, 1), st.integers(0, 3), scalar)


def _broken(draw, text: str, tails: list[str]) -> str:
    """Now and then, the text itself broken: cut somewhere, something appended."""
    if draw(st.integers(0, 4)) == 0:
        text = text[: draw(st.integers(0, len(text)))] + draw(st.sampled_from(tails))
    return text


@st.composite
def sweep_files(draw) -> str:
    lines = []
    if draw(st.integers(0, 5)):
        base = draw(st.one_of(st.just("good.toml"), st.sampled_from(PATHS), value))
        lines.append(f"base = {_toml(base)}")
    top = st.sampled_from([k for k in sweeps.TOP_KEYS if k not in ("base", "set", "parameters")])
    for key in draw(st.lists(top, max_size=4, unique=True)):
        lines.append(f"{key} = {_toml(draw(st.one_of(unit, value)))}")
    fixed = draw(st.dictionaries(st.sampled_from(KEYS), value, max_size=2))
    lines.append("[set]")
    lines += [f"{_toml_key(k)} = {_toml(v)}" for k, v in fixed.items()]
    lines.append("[parameters]")
    for key in draw(st.lists(st.sampled_from([*KEYS[:40], "no.such"]), max_size=3, unique=True)):
        spec = draw(
            st.one_of(
                st.fixed_dictionaries(
                    {"low": unit, "high": unit},
                    optional={"levels": st.integers(-5, 10**13)},
                ),
                st.fixed_dictionaries({"values": st.lists(unit, max_size=3)}),
                value,
            )
        )
        lines.append(f"{_toml_key(key)} = {_toml(spec)}")
    text = "\n".join(lines) + "\n"
    return _broken(draw, text, ["", "[", "\x00", "=", "\n[parameters]\n", "\\"])


@st.composite
def nearly_valid_sweeps(draw) -> str:
    """A valid sweep file with at most one thing made hostile (a key set to a drawn value,
    or removed): these reach the deeper checks (design size, ranges, the balance share,
    every design point), and the valid ones reach the work."""
    design = draw(st.sampled_from(sweeps.DESIGNS))
    top = {
        "base": "good.toml",
        "design": design,
        "samples": 4,
        "replications": 1,
        "balance": "guarantor.share",
    }
    grid = design == "grid"
    params = {
        "credit.pd": {"low": 0.01, "high": 0.02, **({"levels": 2} if grid else {})},
        "information.sharing": {"values": [0.0, 0.5]} if grid else {"low": 0.0, "high": 1.0},
    }
    slots = [*top, *(f"{k}.{f}" for k, spec in params.items() for f in spec)]
    if draw(st.integers(0, 3)):
        slot = draw(st.sampled_from(slots))
        hostile = st.one_of(
            value, st.sampled_from([0, -1, 10**6, 10**13, 10**400, 2**63, "", "\n", "."])
        )
        new = draw(st.one_of(st.none(), hostile))  # None: the key is removed
        if slot in top:
            table, key = top, slot
        else:
            name, key = slot.rsplit(".", 1)
            table = params[name]
        if new is None:
            del table[key]
        else:
            table[key] = new
    lines = [f"{k} = {_toml(v)}" for k, v in top.items()]
    lines.append("[parameters]")
    lines += [f"{_toml_key(k)} = {_toml(spec)}" for k, spec in params.items()]
    return "\n".join(lines) + "\n"


@st.composite
def scenario_files(draw) -> str:
    lines = []
    if draw(st.booleans()):
        lines.append(f"extends = {_toml(draw(st.one_of(st.sampled_from(PATHS), value)))}")
    meta = st.sampled_from(["description", "measure", "bogus"])
    for key in draw(st.lists(meta, max_size=2, unique=True)):
        lines.append(f"{key} = {_toml(draw(st.one_of(unit, value)))}")
    entries = draw(
        st.dictionaries(st.sampled_from([*KEYS, "credit.nope", "x.y"]), st.one_of(unit, value))
    )
    sections: dict[str, list[str]] = {}
    for key, v in entries.items():
        section, name = key.split(".", 1)
        sections.setdefault(section, []).append(f"{_toml_key(name)} = {_toml(v)}")
    for section, body in sections.items():
        lines += [f"[{section}]", *body]
    text = "\n".join(lines) + "\n"
    return _broken(draw, text, ["", "[[", "\x07", "= =", "\ud800"])


def _workdir() -> tuple[tempfile.TemporaryDirectory, Path]:
    tmp = tempfile.TemporaryDirectory()
    root = Path(tmp.name)
    (root / "sub").mkdir()
    os.mkfifo(root / "fifo")
    (root / "good.toml").write_text(WARN)
    return tmp, root


def _contract(result, root: Path, before) -> None:
    """Either validation let the input through to the (stubbed) work, or: exit 2, one line,
    nothing on stdout, nothing created or changed."""
    code, out, err = result
    event(f"exit {code}")
    if code == 1 and "Reached" in err:
        return
    if code == 0:  # validate of a valid file: a report on stdout, never an error line
        assert "error" not in err, result
        return
    refused(result)
    assert snapshot(root) == before
    assert not (root / "o").exists()


_PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@_PROPERTY
@given(text=st.one_of(sweep_files(), nearly_valid_sweeps()))
def test_property_hostile_sweep_files_keep_the_contract(text, capsys, no_work):
    """Generated hostile sweep files: `gsim sweep` exits 2 with one line and creates nothing
    (or, for a valid file, reaches the work)."""
    tmp, root = _workdir()
    with tmp:
        f = root / "w.toml"
        f.write_text(text, encoding="utf-8", errors="surrogatepass")
        before = snapshot(root)
        _contract(gsim(capsys, "sweep", f, "--out", root / "o", "-q"), root, before)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@_PROPERTY
@given(text=scenario_files(), sets=st.lists(st.text(max_size=20), max_size=2))
def test_property_hostile_scenario_files_keep_the_contract(text, sets, capsys, no_work):
    """Generated hostile scenario files and --set values: `gsim validate` and `gsim run`
    exit 0 or 2 (one line, nothing created), never an internal error."""
    tmp, root = _workdir()
    with tmp:
        f = root / "s.toml"
        f.write_text(text, encoding="utf-8", errors="surrogatepass")
        before = snapshot(root)
        set_args = [a for s in sets for a in ("--set", s.replace("\x00", ""))]
        _contract(gsim(capsys, "validate", f, *set_args), root, before)
        _contract(gsim(capsys, "run", f, *set_args, "--out", root / "o", "-q"), root, before)
