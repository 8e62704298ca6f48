"""Compile NEURON mod files into a content-keyed cache and load each library once per process.

Why a cache: ``nrnivmodl`` writes ``x86_64/`` into the current directory, and ``import neuron``
auto-loads ``./x86_64/libnrnmech.so`` from the working directory, so compiling inside the
user's model folder both litters it and makes later processes load mechanisms twice ("The
user defined name already exists"). We compile a copy of the mod files into
``<cache>/<sha256 of the files + NEURON version>/`` instead, under a file lock so parallel
workers compile once.

Compiling never imports NEURON, so the kernel can prepare mechanisms; loading
(:func:`load_mechanisms`) is for worker processes.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from ..model.mod_files import MechanismError, mechanism_names, mod_files

# Libraries loaded into this process: cache key -> {mechanism name: mod file}.
_LOADED: dict[str, dict[str, str]] = {}


def cache_root() -> Path:
    """Where compiled mechanism libraries live (``$BMTOOL_LAB_CACHE`` or ``~/.cache/bmtool_lab``)."""
    base = os.environ.get("BMTOOL_LAB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "bmtool_lab"
    )
    return Path(base) / "mechanisms"


def _neuron_version() -> str:
    try:
        return metadata.version("neuron")
    except metadata.PackageNotFoundError:  # e.g. NEURON built from source
        try:
            return metadata.version("NEURON")
        except metadata.PackageNotFoundError:
            return "unknown"


def mechanisms_key(mod_dir: str | Path, extra: Iterable[Path] = ()) -> str:
    """sha256 over the mod files' names and contents and the NEURON version."""
    digest = hashlib.sha256(_neuron_version().encode())
    for path in sorted([*mod_files(mod_dir), *extra], key=lambda p: p.name):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def _find_library(build_dir: Path) -> Path | None:
    for pattern in (f"{platform.machine()}/libnrnmech.so", "*/libnrnmech.so", "*/.libs/libnrnmech.so",
                    "*/libnrnmech.dylib", "nrnmech.dll"):
        hits = sorted(build_dir.glob(pattern))
        if hits:
            return hits[0]
    return None


def _compile_error(output: str, files: list[Path]) -> MechanismError:
    """Keep the compiler lines that matter, naming the failing mod file."""
    lines = output.splitlines()
    failing = [f.name for f in files if re.search(rf"\b{re.escape(f.stem)}\.(mod|c|cpp)\b.*(error|Error)", output)]
    key_lines = [ln for ln in lines if re.search(r"error|Error|ERROR|Illegal|undefined", ln)][:25]
    where = f" in {', '.join(failing)}" if failing else ""
    return MechanismError(
        f"nrnivmodl failed to compile the mechanisms{where}:\n" + "\n".join(key_lines or lines[-25:])
    )


def find_nrnivmodl() -> str:
    """Path of NEURON's ``nrnivmodl``: this interpreter's environment first, then PATH.

    A registered Jupyter kernel runs a venv's python without the venv's ``bin/`` on PATH, so
    PATH alone misses the nrnivmodl that came with the installed NEURON wheel.
    """
    import sysconfig

    places = [Path(sys.executable).parent, Path(sys.prefix) / "bin", Path(sysconfig.get_path("scripts"))]
    spec = importlib.util.find_spec("neuron")
    if spec is not None and spec.origin:
        pkg = Path(spec.origin).parent
        places += [pkg / ".data" / "bin", pkg / "bin"]
    for folder in dict.fromkeys(places):
        candidate = folder / "nrnivmodl"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("nrnivmodl")
    if found:
        return found
    looked = ", ".join(str(p) for p in dict.fromkeys(places))
    raise MechanismError(
        f"nrnivmodl was not found (looked in {looked} and on PATH): install NEURON in this "
        f"environment ({sys.executable} -m pip install neuron)"
    )


def _env_with_bin(folder: Path) -> dict[str, str]:
    """This process's environment with ``folder`` first on PATH (nrnivmodl calls its siblings)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(folder), env.get("PATH", "")])
    return env


def compile_mechanisms(mod_dir: str | Path, cache_dir: str | Path | None = None, timeout_s: float = 600) -> Path:
    """Compile the mod files of ``mod_dir`` (once per content) and return the library path.

    The user's folder is never written to. Raises MechanismError when nrnivmodl is missing,
    when the folder has no mod files, or with the compiler's lines when compiling fails.
    """
    files = mod_files(mod_dir)
    if not files:
        raise MechanismError(f"no .mod files in {mod_dir}")
    mechanism_names(mod_dir)  # duplicate names fail here, before a slow compile
    nrnivmodl = find_nrnivmodl()
    root = Path(cache_dir) if cache_dir else cache_root()
    target = root / mechanisms_key(mod_dir)
    lib = _find_library(target)
    if lib is not None:
        return lib
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be compiling the same key
        lib = _find_library(target)
        if lib is not None:
            return lib
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
        try:
            src = work / "mod"
            src.mkdir()
            for f in files:
                shutil.copy2(f, src / f.name)
            proc = subprocess.run(
                [nrnivmodl, "mod"], cwd=work, capture_output=True, text=True, timeout=timeout_s,
                env=_env_with_bin(Path(nrnivmodl).parent),
            )
            if proc.returncode != 0 or _find_library(work) is None:
                raise _compile_error(proc.stdout + proc.stderr, files)
            (work / "build.log").write_text(proc.stdout + proc.stderr)
            os.replace(work, target)  # atomic: a half-built folder is never seen under the key
        finally:
            shutil.rmtree(work, ignore_errors=True)
    lib = _find_library(target)
    assert lib is not None
    return lib


def load_mechanisms(mod_dir: str | Path, cache_dir: str | Path | None = None) -> dict[str, str]:
    """Compile if needed and load ``mod_dir``'s mechanisms into this process, once.

    Returns the mechanism names loaded from it. Raises MechanismError when a name is already
    defined by another library loaded in this process (NEURON cannot hold both).
    """
    key = mechanisms_key(mod_dir)
    if key in _LOADED:
        return _LOADED[key]
    names = {n: p.name for n, p in mechanism_names(mod_dir).items()}
    from neuron import h  # only worker processes get here

    for other_key, other in _LOADED.items():
        clash = sorted(set(names) & set(other))
        if clash:
            raise MechanismError(
                f"mechanisms {clash} of {mod_dir} are already loaded from another folder in this "
                f"process (library {other_key}); NEURON cannot load two definitions of one name. "
                "Use one mechanisms folder per model, or run the models in separate workers."
            )
    already = sorted(set(names) & set(loaded_mechanism_names(h)))
    if already:
        raise MechanismError(
            f"mechanisms {already} of {mod_dir} are already defined in this process (built into "
            "NEURON or auto-loaded from ./x86_64 of the working directory); start the process "
            "in a folder without a compiled x86_64/ or rename the mechanisms"
        )
    lib = compile_mechanisms(mod_dir, cache_dir)
    if not h.nrn_load_dll(str(lib)):
        raise MechanismError(f"NEURON could not load {lib}")
    _LOADED[key] = names
    return names


def loaded_mechanism_names(h, kinds: tuple[int, ...] = (0, 1)) -> list[str]:
    """Mechanism names NEURON knows in this process: kind 0 density (SUFFIX), 1 point processes.

    ``hasattr(h, name)`` only sees point processes; a SUFFIX mechanism is not an attribute of h.
    """
    names: list[str] = []
    for kind in kinds:
        mt = h.MechanismType(kind)
        for i in range(int(mt.count())):
            mt.select(i)
            ref = h.ref("")
            mt.selected(ref)
            names.append(ref[0])
    return names


def missing_mechanisms(required: Iterable[str], mod_dir: str | Path | None) -> list[str]:
    """Names from ``required`` that no mod file of ``mod_dir`` defines and NEURON does not build in."""
    builtin = {"pas", "hh", "extracellular", "fastpas", "IClamp", "SEClamp", "VClamp", "ExpSyn",
               "Exp2Syn", "AlphaSynapse", "NetStim", "IntFire1", "IntFire2", "IntFire4", "PointProcessMark",
               "APCount", "OClamp", "PatternStim", "k_ion", "na_ion", "ca_ion"}
    defined = set(mechanism_names(mod_dir)) if mod_dir else set()
    return sorted({n for n in required if n not in defined and n not in builtin})
