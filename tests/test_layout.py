"""One import root: everything is ``sublevel.*``, the wheel installs ``sublevel`` alone, and the
command line starts without torch."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GENERIC = ("theory", "constructions", "checks", "figures")

WALK = """
import importlib, json, pkgutil, sys
import sublevel
names = []
for info in pkgutil.walk_packages(sublevel.__path__, "sublevel."):
    if info.name.endswith("__main__"):
        continue
    names.append(info.name)
    importlib.import_module(info.name)
for sub in ("theory", "constructions", "checks", "figures"):
    package = importlib.import_module("sublevel." + sub)
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        names.append(info.name)
        importlib.import_module(info.name)
stray = sorted(m for m in sys.modules if m.split(".")[0] in {generic})
print(json.dumps({{"modules": len(names), "stray": stray}}))
"""


def run_python(code: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})


def test_no_module_is_imported_under_a_generic_top_level_name():
    """Import every module of the package from the repository root, where a stray
    ``from checks... import`` would silently succeed, and look for such names in sys.modules."""
    proc = run_python(WALK.format(generic=set(GENERIC)), ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["modules"] > 50
    assert report["stray"] == []


def test_command_line_help_does_not_import_torch():
    code = ("import sys\nfrom sublevel.cli import main\n"
            "code = main(['--help'])\nprint('torch' in sys.modules, code)")
    proc = run_python(code, ROOT)
    assert proc.stdout.split()[-2:] == ["False", "0"], proc.stderr[-2000:]


def test_version_option(capsys):
    from sublevel import __version__
    from sublevel.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"sublevel {__version__}"


def test_public_api_resolves():
    import sublevel

    for name in sublevel.__all__:
        assert getattr(sublevel, name) is not None
    with pytest.raises(AttributeError):
        sublevel.no_such_name  # noqa: B018


def test_wheel_installs_one_package_and_works_from_anywhere(tmp_path):
    """A non-editable install (the wheel unpacked into a directory on PYTHONPATH, run from an
    unrelated directory that holds a decoy ``checks`` package) imports ``sublevel`` from the
    wheel and counts G2."""
    import shutil

    source, wheels = tmp_path / "source", tmp_path / "wheels"
    # A copy, so that setuptools' build/ folder lands in tmp_path and not in the checkout.
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__",
                                                                ".hypothesis", ".pytest_cache", "*.db", "*.png", "*.pdf"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(wheels), str(source)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("sublevel-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        archive.extractall(tmp_path / "site")
    assert {top for top in tops if not top.endswith(".dist-info")} == {"sublevel"}
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "checks").mkdir(parents=True)
    (elsewhere / "checks" / "__init__.py").write_text("raise ImportError('the decoy was imported')\n")
    code = ("import sublevel\nd = sublevel.construct('one-neuron', a=2.0)\n"
            "c = sublevel.count(d, d.default_architecture(), [2.2], settings=sublevel.SampleSettings(starts=8, steps=60))\n"
            "print(sublevel.__file__)\nprint(c.brackets[0].describe())")
    proc = run_python(code, elsewhere, PYTHONPATH=str(tmp_path / "site"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    location, described = proc.stdout.strip().splitlines()[-2:]
    assert location.startswith(str(tmp_path / "site")) and described == "2 (exact)"


def test_docstring_examples_run():
    """Every ``>>>`` example in the package's docstrings runs as written (under its installed
    name, so the examples teach ``sublevel.*`` imports)."""
    import doctest
    import importlib
    import pkgutil

    import sublevel

    failures, tried = 0, 0
    names = [info.name for info in pkgutil.walk_packages(sublevel.__path__, "sublevel.")]
    for sub in GENERIC:
        package = importlib.import_module("sublevel." + sub)
        names += [package.__name__] + [info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    for name in names:
        if name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        failures, tried = failures + result.failed, tried + result.attempted
    result = doctest.testmod(sublevel)
    failures, tried = failures + result.failed, tried + result.attempted
    assert tried > 20 and failures == 0


LAYERS = """
import importlib, json, pkgutil, sys
package = importlib.import_module("sublevel.{layer}")
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(info.name)
print(json.dumps(sorted({{m.split(".")[1] for m in sys.modules if m.startswith("sublevel.") and m.count(".") >= 1}})))
"""


@pytest.mark.parametrize("layer, allowed", [
    ("theory", {"theory"}),
    ("constructions", {"theory", "constructions"}),
    ("checks", {"theory", "constructions", "checks"}),
])
def test_dependencies_point_one_way(layer, allowed):
    """theory <- constructions <- checks <- figures <- cli: no layer imports one above it."""
    proc = run_python(LAYERS.format(layer=layer), ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(json.loads(proc.stdout.strip().splitlines()[-1])) <= allowed


def test_figures_never_switch_the_matplotlib_backend():
    code = """
import importlib, pkgutil, matplotlib
matplotlib.use("svg")
import sublevel.figures as figures
for info in pkgutil.walk_packages(figures.__path__, "sublevel.figures."):
    importlib.import_module(info.name)
from sublevel.figures.energy_gap import draw
print(matplotlib.get_backend())
"""
    proc = run_python(code, ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "svg"
