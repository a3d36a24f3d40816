"""The package layering of docs/architecture.md, checked on the code itself.

Every module's imports (module level and inside functions) are read with ``ast`` and each
must point down, never up: core → geometry → neural → the API layer (workflow, session,
projects) → the front ends (CLI, batch, GUI), with the headless drawing package on core and
geometry only. The heavy libraries stay where they belong (no torch below neural, no Qt
outside the GUI, no polyscope outside drawing and the GUI), and a subprocess checks that
the light entry points (``import fieldrig``, ``import fieldrig.cli``) stay light.
"""

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

#: Layer of each module: a package name covers its submodules; API modules are listed one by one.
PACKAGE_LAYERS = {
    "fieldrig.core": "core",
    "fieldrig.geometry": "geometry",
    "fieldrig.neural": "neural",
    "fieldrig.draw": "draw",
    "fieldrig.batch": "front end",
    "fieldrig.cli": "front end",
    "fieldrig.__main__": "front end",
    "fieldrig.gui": "gui",
    "fieldrig.assets": "assets",
}
API_MODULES = {
    "fieldrig",
    "fieldrig.skinning",
    "fieldrig.coordinates",
    "fieldrig.workflow",
    "fieldrig.session",
    "fieldrig.project",
}
#: Which layers each layer may import from.
MAY_IMPORT = {
    "core": {"core"},
    "geometry": {"core", "geometry"},
    "neural": {"core", "geometry", "neural"},
    "api": {"core", "geometry", "neural", "api"},
    "draw": {"core", "geometry", "draw"},
    "front end": {"core", "geometry", "neural", "api", "draw", "front end", "gui"},  # `fieldrig view` starts the GUI
    "gui": {"core", "geometry", "neural", "api", "draw", "gui"},
    "assets": set(),
}
#: Libraries a layer must never import.
NEVER = {
    "core": {"torch", "PyQt6", "polyscope"},
    "geometry": {"torch", "PyQt6", "polyscope"},
    "neural": {"PyQt6", "polyscope"},
    "api": {"PyQt6", "polyscope"},
    "draw": {"torch", "PyQt6"},
    "assets": {"torch", "PyQt6", "polyscope"},
}
HEAVY = ("torch", "PyQt6", "polyscope")


def layer_of(module: str) -> str:
    if module in API_MODULES:
        return "api"
    for package, layer in PACKAGE_LAYERS.items():
        if module == package or module.startswith(package + "."):
            return layer
    raise AssertionError(f"{module} belongs to no layer: add it to tests/test_layers.py and docs/architecture.md")


def package_dirs() -> dict:
    """Installed top-level packages → their folders (setuptools' package-dir mapping)."""
    found = {}
    for name in ("fieldrig", "fieldrig.geometry", "fieldrig.neural", "fieldrig.assets"):
        spec = importlib.util.find_spec(name)
        found[name] = Path(spec.origin).parent
    return found


def all_modules() -> dict:
    """Every fieldrig module → its file."""
    dirs = package_dirs()
    modules = {}
    for package, folder in dirs.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if not (path.parent / "__init__.py").is_file():
                continue  # not part of a package
            name = ".".join([package, *parts])
            modules[name.removesuffix(".__init__")] = path
    return modules


MODULES = all_modules()


def imports_of(module: str, path: Path) -> list:
    """(imported module or library, line) for every import in the file, relative ones resolved;
    ``from package import name`` counts as ``package.name`` when that is a module."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((candidate if candidate in MODULES else base, node.lineno))
    return found


def test_every_module_has_a_layer():
    assert "fieldrig.cli" in MODULES and "fieldrig.geometry.rig" in MODULES and "fieldrig.gui.tabs.pose" in MODULES
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    layer = layer_of(module)
    wrong = []
    for target, line in imports_of(module, MODULES[module]):
        top = target.split(".")[0]
        if top == "fieldrig":
            target_layer = layer_of(target)
            if target_layer not in MAY_IMPORT[layer]:
                wrong.append(f"line {line}: {target} ({target_layer})")
        elif top in NEVER.get(layer, ()):
            wrong.append(f"line {line}: {top}")
    assert not wrong, f"{module} ({layer}) imports " + "; ".join(wrong)


def test_nobody_imports_the_command_line():
    """The CLI parses and prints; it is nobody's library (only ``python -m fieldrig`` runs it)."""
    users = [m for m, path in MODULES.items() for t, _ in imports_of(m, path) if t == "fieldrig.cli"]
    assert users == ["fieldrig.__main__"]


def test_only_the_command_line_runs_batches():
    """Batch runs are the ``fieldrig batch`` command's engine: no other module drives them."""

    def in_batch(module: str) -> bool:
        return module == "fieldrig.batch" or module.startswith("fieldrig.batch.")

    users = {m for m, path in MODULES.items() if not in_batch(m) for t, _ in imports_of(m, path) if in_batch(t)}
    assert users == {"fieldrig.cli"}


def test_the_public_names_come_from_below_the_front_ends():
    import fieldrig

    for name, module in fieldrig._LAZY.items():
        assert layer_of(module) in {"core", "geometry", "neural", "api", "draw"}, f"fieldrig.{name} is in {module}"


def test_every_package_is_installed_and_says_what_it_may_import():
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {m for m, path in MODULES.items() if path.name == "__init__.py"}
    assert packages == listed
    for package in packages:
        doc = ast.get_docstring(ast.parse(MODULES[package].read_text())) or ""
        assert "import" in doc, f"{package}/__init__.py does not say what lives there and what it may import"


def loaded_after(code: str) -> list:
    """The heavy libraries a fresh interpreter has loaded after running ``code``."""
    probe = code + f"; import sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])


def test_the_light_entry_points_stay_light():
    """``import fieldrig``, the whole CLI parser and the batch package (which reads and checks
    manifests before any job) load no torch, Qt or polyscope."""
    assert loaded_after("import fieldrig; fieldrig.__all__") == []
    assert loaded_after("import fieldrig.batch") == []
    assert loaded_after("import fieldrig.cli; fieldrig.cli.build_parser().parse_args(['render', 'x', '-o', 'y'])") == []


@pytest.mark.parametrize("layer", ["geometry", "api", "draw"])
def test_importing_a_layer_loads_nothing_it_must_not(layer):
    """What a layer's modules pull in at import time, libraries' own imports included."""
    names = [m for m in MODULES if layer_of(m) == layer]
    loaded = loaded_after("; ".join(f"import {m}" for m in names))
    assert not set(loaded) & NEVER[layer], f"importing the {layer} modules loads {loaded}"


def test_the_compute_process_has_no_qt():
    """The app's compute process runs :mod:`fieldrig.gui.work`: it must load neither Qt nor polyscope."""
    assert not set(loaded_after("import fieldrig.gui.work")) & {"PyQt6", "polyscope"}
