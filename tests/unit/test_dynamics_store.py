"""The dynamics-JSON store: load, diff, atomic save with backups, shared files, save as new."""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from bmtool_lab.model.dynamics import (
    MAX_BACKUPS,
    UNITS,
    Change,
    DynamicsConflictError,
    DynamicsError,
    diff_dynamics,
    format_diff,
    list_backups,
    load_dynamics,
    load_dynamics_with_mtime,
    save_as_new,
    save_dynamics,
    shared_users,
)

pytestmark = pytest.mark.unit

ORIGINAL = """{
    "level_of_detail": "Exp2SynSTP",
    "tau1": 1.0,
    "tau2": 8.0,
    "erev": 0.0,
    "nsyn": 3,
    "comment": "from the Allen fits",
    "notes": {"source": "paper", "tags": ["L5", "E"]},
    "Use": 0.5
}
"""


@pytest.fixture
def dyn(tmp_path: Path) -> Path:
    p = tmp_path / "Exc2Exc.json"
    p.write_text(ORIGINAL)
    return p


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# ---------------------------------------------------------------------------------------
# loading


def test_load_keeps_order_and_values(dyn: Path) -> None:
    params = load_dynamics(dyn)
    assert list(params) == ["level_of_detail", "tau1", "tau2", "erev", "nsyn", "comment", "notes", "Use"]
    assert params["notes"] == {"source": "paper", "tags": ["L5", "E"]}


def test_load_errors_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(DynamicsError, match="does not exist.*synaptic_models_dir"):
        load_dynamics(tmp_path / "nope.json")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DynamicsError, match="does not exist"):
        load_dynamics(tmp_path / "afile" / "x.json")  # a parent that is a file
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "tau1": 1.0,\n  "tau2": \n}\n')
    with pytest.raises(DynamicsError, match=r"not valid JSON \(line 4, column 1"):
        load_dynamics(bad)
    lst = tmp_path / "list.json"
    lst.write_text("[1, 2]")
    with pytest.raises(DynamicsError, match="holds a JSON list.*one object"):
        load_dynamics(lst)
    with pytest.raises(DynamicsError, match="is a folder"):
        load_dynamics(tmp_path)


# ---------------------------------------------------------------------------------------
# diff


def test_diff_and_its_text(dyn: Path) -> None:
    changes = diff_dynamics(dyn, {"tau2": 9.5, "tau1": 1.0, "erev": -70, "Use": 0.25, "initW": 2.0,
                                  "custom_gain": 3, "level_of_detail": "Exp2SynSTP"})
    # unchanged values (tau1, level_of_detail) are left out; int -70 becomes a float like 0.0
    assert changes == [Change("tau2", 8.0, 9.5), Change("erev", 0.0, -70.0), Change("Use", 0.5, 0.25),
                       Change("initW", changes[3].old, 2.0), Change("custom_gain", changes[4].old, 3)]
    assert changes[3].added and changes[4].added and not changes[0].added
    assert format_diff(changes).splitlines() == [
        "tau2: 8.0 -> 9.5 ms",
        "erev: 0.0 -> -70.0 mV",
        "Use: 0.5 -> 0.25 (1)",
        "initW: (new) 2.0 (1)",
        "custom_gain: (new) 3",
    ]
    assert format_diff([]) == "no changes"
    assert UNITS["Dep"] == UNITS["Fac"] == "ms" and UNITS["weight"] == "µS"
    assert str(Change("level_of_detail", "exp2syn", "Exp2Syn")) == 'level_of_detail: "exp2syn" -> "Exp2Syn"'


# ---------------------------------------------------------------------------------------
# saving


def test_round_trip_keeps_unknown_keys_order_and_layout(dyn: Path) -> None:
    before = load_dynamics(dyn)
    result = save_dynamics(dyn, {"tau2": np.float64(9.5), "nsyn": 4.0, "Fac": 20.0})
    after = load_dynamics(dyn)
    assert list(after) == [*before, "Fac"]  # new keys at the end
    assert after == {**before, "tau2": 9.5, "nsyn": 4, "Fac": 20.0}
    assert isinstance(after["nsyn"], int)  # an int stays an int when the new value is integral
    text = dyn.read_text()
    assert text.startswith('{\n    "level_of_detail"') and text.endswith("}\n")  # 4-space indent kept
    assert result.path == dyn and [c.key for c in result.changes] == ["tau2", "nsyn", "Fac"]
    assert result.backup_path is not None and result.backup_path.read_text() == ORIGINAL
    assert result.mtime_ns == os.stat(dyn).st_mtime_ns


@pytest.mark.parametrize("text, check", [
    ('{"tau1": 1.0, "tau2": 3.0}', lambda t: t == '{"tau1": 1.0, "tau2": 4.0}'),       # one line, no newline
    ('{\n\t"tau1": 1.0,\n\t"tau2": 3.0\n}\n', lambda t: t == '{\n\t"tau1": 1.0,\n\t"tau2": 4.0\n}\n'),
    ('{\r\n  "tau1": 1.0,\r\n  "tau2": 3.0\r\n}\r\n',
     lambda t: t == '{\r\n  "tau1": 1.0,\r\n  "tau2": 4.0\r\n}\r\n'),                    # CRLF kept
    ('{\n  "unit": "µS",\n  "tau2": 3.0\n}\n', lambda t: '"µS"' in t),                 # no \\u escapes added
])
def test_layout_is_kept(tmp_path: Path, text: str, check: Callable[[str], bool]) -> None:
    p = tmp_path / "s.json"
    p.write_bytes(text.encode())
    save_dynamics(p, {"tau2": 4.0}, backup=False)
    assert check(p.read_bytes().decode()), p.read_bytes()
    assert listing(tmp_path) == ["s.json"]


def test_no_change_writes_nothing(dyn: Path) -> None:
    stamp = os.stat(dyn).st_mtime_ns
    result = save_dynamics(dyn, {"tau2": 8.0, "nsyn": 3})
    assert result.changes == [] and result.backup_path is None
    assert os.stat(dyn).st_mtime_ns == stamp and listing(dyn.parent) == [dyn.name]


@pytest.mark.parametrize("updates, message", [
    ({"tau2": math.nan}, "tau2: nan is not a finite number"),
    ({"tau2": math.inf}, "tau2: inf is not a finite number"),
    ({"Dep": -math.inf}, "Dep: -inf is not a finite number"),  # a new key too
    ({"tau2": np.float32("nan")}, "tau2: nan"),
    ({"weights": [1.0, float("nan")]}, "weights: .* not a finite number"),
    ({"tau2": "9.5"}, "tau2 must be a number like its current value 8.0, got str '9.5'"),
    ({"tau2": None}, "tau2 must be a number"),
    ({"tau2": True}, "tau2 must be a number"),
    ({3: 1.0}, "parameter names must be non-empty strings"),
])
def test_bad_values_are_refused_and_nothing_written(dyn: Path, updates: dict, message: str) -> None:
    with pytest.raises(DynamicsError, match=message):
        save_dynamics(dyn, updates)
    with pytest.raises(DynamicsError, match=message):
        diff_dynamics(dyn, updates)  # the preview refuses the same way
    assert dyn.read_text() == ORIGINAL and listing(dyn.parent) == [dyn.name]


def test_failure_mid_write_leaves_the_original_and_no_temp(dyn: Path) -> None:
    # json.dump streams into the temp file and fails at the unserialisable value, after the
    # keys before it were written: the temp file must go, the original stay.
    with pytest.raises(DynamicsError, match=r"cannot write extra: object .* as JSON.*nothing was saved"):
        save_dynamics(dyn, {"tau2": 9.0, "extra": object()})
    assert dyn.read_text() == ORIGINAL and listing(dyn.parent) == [dyn.name]


def test_duplicate_keys_are_not_silently_dropped(tmp_path: Path) -> None:
    p = tmp_path / "dup.json"
    p.write_text('{"tau1": 1.0, "tau1": 2.0, "tau2": 3.0, "n": {"a": 1, "a": 2}}')
    assert load_dynamics(p)["tau1"] == 2.0  # BioNet's json.load: last wins
    with pytest.raises(DynamicsError, match="lists tau1 more than once"):
        save_dynamics(p, {"tau2": 4.0})


def test_missing_file_or_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DynamicsError, match="does not exist"):
        save_dynamics(tmp_path / "afile" / "x.json", {"tau2": 1.0})
    with pytest.raises(DynamicsError, match="does not exist"):
        save_dynamics(tmp_path / "missing" / "x.json", {"tau2": 1.0})
    with pytest.raises(DynamicsError, match="folder .*missing does not exist"):
        save_as_new(tmp_path / "missing" / "new.json", {"tau2": 1.0}, [])
    assert listing(tmp_path) == ["afile"]


def _unprivileged(fn: Callable[[], object]) -> str:
    """Run ``fn`` as a user for whom file permissions apply; its result or error as text.

    Root ignores chmod, so when the tests run as root ``fn`` runs in a forked child that
    drops to uid/gid 65534 ("nobody"), a real unprivileged process.
    """
    def call() -> str:
        try:
            return f"ok: {fn()}"
        except Exception as err:  # reported to the parent as text
            return f"{type(err).__name__}: {err}"

    if os.geteuid() != 0:
        return call()
    if not hasattr(os, "fork"):
        pytest.skip("running as root, where chmod does not stop writes, and cannot fork to drop privileges")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            out = call()
        except BaseException as err:
            out, code = f"setup failed: {err}", 1
        os.write(write_end, out.encode())
        os._exit(code)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder the unprivileged child can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="dynamics-ro-"))
    try:
        yield folder
    finally:
        os.chmod(folder, 0o700)
        shutil.rmtree(folder)


def _owned(path: Path) -> None:
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)


def test_read_only_file_is_refused(shared_tmp: Path) -> None:
    p = shared_tmp / "ro.json"
    p.write_text(ORIGINAL)
    for x in (shared_tmp, p):
        _owned(x)
    os.chmod(shared_tmp, 0o755)
    os.chmod(p, 0o444)  # the folder is writable, so only the os.access check stops os.replace
    out = _unprivileged(lambda: save_dynamics(p, {"tau2": 9.0}))
    assert out.startswith("DynamicsReadOnlyError:") and "is read-only" in out and "chmod u+w" in out, out
    assert p.read_text() == ORIGINAL and listing(shared_tmp) == ["ro.json"]


def test_read_only_folder_is_refused(shared_tmp: Path) -> None:
    p = shared_tmp / "rw.json"
    p.write_text(ORIGINAL)
    for x in (shared_tmp, p):
        _owned(x)
    os.chmod(p, 0o644)
    os.chmod(shared_tmp, 0o555)
    out = _unprivileged(lambda: save_dynamics(p, {"tau2": 9.0}))
    assert out.startswith("DynamicsReadOnlyError:") and "is read-only" in out and "temporary file" in out, out
    out = _unprivileged(lambda: save_as_new(shared_tmp / "new.json", {"tau2": 9.0}, [], source_path=p))
    assert out.startswith("DynamicsReadOnlyError:"), out
    assert p.read_text() == ORIGINAL and listing(shared_tmp) == ["rw.json"]


def test_backups_rotate(dyn: Path) -> None:
    versions = [dyn.read_text()]
    for i in range(MAX_BACKUPS + 2):
        save_dynamics(dyn, {"tau2": 10.0 + i})
        versions.append(dyn.read_text())
    backups = list_backups(dyn)
    assert len(backups) == MAX_BACKUPS
    # newest first, each holding the version before the save that made it
    assert [b.read_text() for b in backups] == versions[-2:-2 - MAX_BACKUPS:-1]
    for b in backups:
        assert re.fullmatch(r"Exc2Exc\.json\.\d{8}-\d{6}(-\d+)?\.bak", b.name), b.name
    assert len(listing(dyn.parent)) == MAX_BACKUPS + 1  # no temp files
    save_dynamics(dyn, {"tau2": 1.0}, backup=False)
    assert list_backups(dyn) == backups


def test_expected_mtime_refuses_a_file_changed_on_disk(dyn: Path) -> None:
    params, mtime_ns = load_dynamics_with_mtime(dyn)
    # someone else edits the file (move its mtime on by 1 s: coarse file-system clocks)
    edited = ORIGINAL.replace('"tau1": 1.0', '"tau1": 1.5')
    dyn.write_text(edited)
    os.utime(dyn, ns=(mtime_ns + 10**9, mtime_ns + 10**9))
    with pytest.raises(DynamicsConflictError, match="changed on disk since it was loaded.*nothing was saved"):
        save_dynamics(dyn, {"tau2": 9.0}, expected_mtime=mtime_ns)
    assert dyn.read_text() == edited and listing(dyn.parent) == [dyn.name]
    # the current stamp (ns or float seconds) is accepted, and each save returns the next one
    _, mtime_ns = load_dynamics_with_mtime(dyn)
    first = save_dynamics(dyn, {"tau2": 9.0}, expected_mtime=mtime_ns)
    second = save_dynamics(dyn, {"tau2": 9.5}, expected_mtime=first.mtime_ns / 1e9)
    assert load_dynamics(dyn)["tau2"] == 9.5 and second.mtime_ns == os.stat(dyn).st_mtime_ns


def test_save_through_a_symlink_keeps_the_link(dyn: Path) -> None:
    link = dyn.with_name("link.json")
    link.symlink_to(dyn.name)
    save_dynamics(link, {"tau2": 9.0})
    assert link.is_symlink() and load_dynamics(dyn)["tau2"] == 9.0
    assert list_backups(dyn)  # the backup sits with the real file


# ---------------------------------------------------------------------------------------
# the example network: shared files and save as new


@pytest.fixture
def network(example_config: Path, tmp_path: Path) -> Path:
    """A private copy of the example network (built once per session) to write into."""
    dst = tmp_path / "net"
    shutil.copytree(example_config.parent, dst)
    return dst / "simulation_config.json"


def test_shared_users_on_the_example(example_config: Path) -> None:
    from bmtool_lab.model.connection_types import list_connection_types

    types = list_connection_types(example_config)
    models = example_config.parent / "components" / "synaptic_models"
    users = shared_users(types, models / "ThalAMPA.json")
    assert [(t.edge_population, t.edge_type_id) for t in users] == [("thalamus_to_cortex", 100),
                                                                   ("thalamus_to_cortex", 101)]
    # the same file however it is named
    assert len(shared_users(types, models / ".." / "synaptic_models" / "ThalAMPA.json")) == 2
    assert [t.name for t in shared_users(types, models / "PV2Exc.json")] == ["PV2Exc"]
    assert shared_users(types, models / "nope.json") == []


@pytest.mark.filterwarnings("ignore:The inplace keyword:Warning")  # bmtk's own pandas call
def test_save_as_new_repoints_exactly_those_edge_types(network: Path) -> None:
    from bmtk.utils import sonata

    from bmtool_lab.model.connection_types import list_connection_types

    base = network.parent
    models = base / "components" / "synaptic_models"
    csv_path = base / "network" / "thalamus_cortex_edge_types.csv"
    other_csv = base / "network" / "cortex_cortex_edge_types.csv"
    old_csv, old_other, old_shared = csv_path.read_bytes(), other_csv.read_bytes(), (models / "ThalAMPA.json").read_bytes()
    types = list_connection_types(network)
    before = {t.key: t.dynamics_params for t in types}
    pv = [t for t in shared_users(types, models / "ThalAMPA.json") if t.edge_type_id == 101]

    result = save_as_new("ThalAMPA_PV.json", {"tau2": 2.0, "Use": 0.3}, pv)

    new = models / "ThalAMPA_PV.json"
    assert result.path == new and result.repointed == [("thalamus_to_cortex", 101)]
    # started from the shared file: level_of_detail and the other keys are kept, in order
    assert load_dynamics(new) == {"level_of_detail": "exp2syn", "tau1": 0.5, "tau2": 2.0, "erev": 0.0, "Use": 0.3}
    assert format_diff(result.changes) == "tau2: 3.0 -> 2.0 ms\nUse: (new) 0.3 (1)"
    assert (models / "ThalAMPA.json").read_bytes() == old_shared
    # every byte of the CSV but that one field is unchanged (bmtk's CRLF, quotes, NULLs)
    lines = old_csv.split(b"\r\n")
    (i,) = [k for k, ln in enumerate(lines) if ln.startswith(b"101 ")]
    # bmtk writes the edge-type columns in set order (it varies with the hash seed): swap the field
    lines[i] = b" ".join(b"ThalAMPA_PV.json" if f == b"ThalAMPA.json" else f for f in lines[i].split(b" "))
    assert csv_path.read_bytes() == b"\r\n".join(lines)
    assert other_csv.read_bytes() == old_other
    assert result.csv_files == [csv_path] and [b.read_bytes() for b in result.backup_paths] == [old_csv]

    after = {t.key: t.dynamics_params for t in list_connection_types(network)}
    assert after == {**before, ("thalamus_to_cortex", 101): "ThalAMPA_PV.json"}
    # bmtk's own SONATA reader loads the edited types table
    f = sonata.File(data_files=str(base / "network" / "thalamus_cortex_edges.h5"), data_type_files=str(csv_path))
    table = f.edges["thalamus_to_cortex"].edge_types_table
    assert (table[100]["dynamics_params"], table[101]["dynamics_params"]) == ("ThalAMPA.json", "ThalAMPA_PV.json")

    # the name is taken now; overwrite=True replaces it (with a backup)
    with pytest.raises(DynamicsError, match="already exists; choose another name or pass overwrite=True"):
        save_as_new("ThalAMPA_PV.json", {"tau2": 2.5}, pv)
    again = save_as_new("ThalAMPA_PV.json", {"tau2": 2.5}, pv, source_path=new, overwrite=True)
    assert load_dynamics(new)["tau2"] == 2.5 and len(again.backup_paths) == 2
    assert csv_path.read_bytes() == b"\r\n".join(lines)  # already pointing there: same bytes


def test_save_as_new_refuses_bad_targets_and_writes_nothing(network: Path, tmp_path: Path) -> None:
    from bmtool_lab.model.connection_types import list_connection_types

    base = network.parent
    models = base / "components" / "synaptic_models"
    types = list_connection_types(network)
    thal = shared_users(types, models / "ThalAMPA.json")
    snapshot = {p: p.read_bytes() for p in (base / "network").glob("*.csv")}
    files = listing(models)
    with pytest.raises(DynamicsError, match="not in synaptic_models_dir.*relative to that folder"):
        save_as_new(tmp_path / "elsewhere.json", {"tau2": 2.0}, thal)
    for bad in ("ThalAMPA_PV.txt", ".hidden.json", 'q"uote.json'):
        with pytest.raises(DynamicsError, match="not a usable dynamics file name"):
            save_as_new(bad, {"tau2": 2.0}, thal)
    with pytest.raises(DynamicsError, match="tau2: nan is not a finite number"):
        save_as_new("ThalAMPA_x.json", {"tau2": float("nan")}, thal)
    # an edge type the CSV does not hold (stale ConnectionType): refused before writing anything
    from dataclasses import replace
    stale = replace(thal[0], edge_type_id=999)
    with pytest.raises(DynamicsError, match="has no edge type 999; nothing was saved"):
        save_as_new("ThalAMPA_x.json", {"tau2": 2.0}, [stale])
    assert listing(models) == files
    assert {p: p.read_bytes() for p in (base / "network").glob("*.csv")} == snapshot


def test_repoint_keeps_every_other_byte_of_a_hand_written_csv(tmp_path: Path) -> None:
    """Empty fields (None), NULL, quoted fields with spaces, LF line ends, a new name with a space."""
    from dataclasses import replace

    from bmtool_lab.model.connection_types import ConnectionType
    from bmtool_lab.model.sonata import read_types_table

    models = tmp_path / "synaptic_models"
    models.mkdir()
    (models / "A.json").write_text('{"tau1": 1.0, "tau2": 5.0, "extra": [1, 2]}')
    csv_path = tmp_path / "x_edge_types.csv"
    text = ('edge_type_id model_template dynamics_params distance_range weight_function note\n'
            '1 exp2syn A.json "[0.0, 150.0]"  "a ""quoted"" note"\n'
            '2 exp2syn A.json NULL wf NULL\n'
            '\n'
            '3 exp2syn "A.json" "[0.0, 1e+20]" wf plain\n')
    csv_path.write_text(text)
    ct = ConnectionType(
        name="A", edge_population="x", edge_type_id=1, source_population="s", target_population="t",
        source_groups=(), target_groups=(), n_edges=1, n_synapses=1, model_template="exp2syn",
        dynamics_params="A.json", dynamics_path=models / "A.json", syn_weight=None, delay=None,
        weight_function=None, target_sections=None, distance_range=None, is_gap_junction=False,
        edges_file=tmp_path / "x_edges.h5", edge_types_file=csv_path)
    result = save_as_new("A tuned.json", {"tau2": 6.0}, [ct, replace(ct, edge_type_id=3)])
    assert load_dynamics(models / "A tuned.json") == {"tau1": 1.0, "tau2": 6.0, "extra": [1, 2]}
    assert csv_path.read_text() == text.replace("1 exp2syn A.json", '1 exp2syn "A tuned.json"').replace(
        '3 exp2syn "A.json"', '3 exp2syn "A tuned.json"')
    table = read_types_table(csv_path, "edge_type_id")
    assert list(table["dynamics_params"]) == ["A tuned.json", "A.json", "A tuned.json"]
    assert table.loc[1, "note"] == 'a "quoted" note' and table.loc[1, "weight_function"] != table.loc[1, "weight_function"]
    assert result.repointed == [("x", 1), ("x", 3)]
