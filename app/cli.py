"""The ``fieldrig`` command: skinning weights, barycentric coordinates, deformation, batch
runs and mesh checks from the shell.

Exit codes: 0 success; 1 a bad input file or a failed asset (one line on stderr, no
traceback; ``--debug`` shows it); 2 a usage error (bad or missing arguments); 130
interrupted. Every output is written atomically (a temporary file, then a rename) and no
input is ever modified.

Other modules add subcommands through :data:`COMMAND_PROVIDERS`: each entry names a module
with a ``register(subparsers)`` function that adds its parsers and sets ``func`` (a
callable taking the parsed arguments and returning an exit code) as their default. The
module is imported when the parser is built, so it must itself import nothing heavy
(import Qt, polyscope or torch inside ``func``). A provider that is not installed is
skipped.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from fieldrig.core.vocabulary import (
    DEFAULT_SKINNING_PRESET,
    SKINNING_METHODS,
    SKINNING_PRESET_NAMES,
    WEIGHT_OUTPUT_SUFFIXES,
    WEIGHT_TABLE_SUFFIXES,
)

#: Modules whose ``register(subparsers)`` adds subcommands (``view`` and ``render``).
COMMAND_PROVIDERS = ["fieldrig.gui.cli_commands"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


_MAIN_EPILOG = """\
examples:
  fieldrig weights arm.obj --rig arm.tgf -o arm.glb
  fieldrig weights arm.obj --rig arm.tgf -o arm.npy -o arm.csv --preset fast
  fieldrig coords cage.obj --mesh spot.obj -o spot-coords.npy
  fieldrig deform arm.obj --rig arm.tgf --weights arm.npy --pose wave.json -o waved.obj
  fieldrig batch assets/ -o out/ --jobs 2
  fieldrig check arm.obj --rig arm.tgf

exit codes: 0 ok, 1 failed input or asset, 2 usage error, 130 interrupted.
Run 'fieldrig COMMAND --help' for the options of each command.
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks and shows the defaults that say something."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            action.default is not None
            and action.default is not False
            and action.default != argparse.SUPPRESS
            and action.option_strings
            and "%(default)" not in text
            and not isinstance(action.default, list)
        ):
            text += " (default: %(default)s)"
        return text


# ============================================================================ parser
def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to render the docs)."""
    parser = argparse.ArgumentParser(
        prog="fieldrig",
        description="Mesh-free skinning weights and neural barycentric coordinates for rigging.",
        epilog=_MAIN_EPILOG,
        formatter_class=_Formatter,
    )
    from fieldrig import __version__

    parser.add_argument("--version", action="version", version=f"fieldrig {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_weights(sub)
    _add_coords(sub)
    _add_deform(sub)
    _add_batch(sub)
    _add_check(sub)
    for module in COMMAND_PROVIDERS:
        try:
            provider = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue
            raise
        provider.register(sub)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _add_compute_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the commands that train a field: preset, field file, device, seed, quiet."""
    p.add_argument(
        "--preset", choices=SKINNING_PRESET_NAMES, default=DEFAULT_SKINNING_PRESET, help="speed/quality preset"
    )
    p.add_argument(
        "--save-field", metavar="FIELD", help="also save the trained field, to evaluate it later at other points"
    )
    p.add_argument(
        "--device", default="auto", help="torch device: auto (CUDA when present, else CPU), cpu, cuda, cuda:1"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same result")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _add_weights(sub) -> None:
    p = sub.add_parser(
        "weights",
        formatter_class=_Formatter,
        help="skinning weights of a mesh for a rig",
        description="Compute mesh-free biharmonic skinning weights of MESH's vertices for the handles of RIG.",
        epilog="""\
output formats (by extension of -o; repeat -o for several):
  .npy        float64 array, one row per vertex, one column per handle
  .csv        header of handle names, then one row per vertex
  .dmat       libigl ASCII DMAT (igl.readDMAT, gpytoolbox.read_dmat)
  .glb/.gltf  the mesh with its skeleton and skin (JOINTS_0/WEIGHTS_0, at most
              --max-influences per vertex, pruned and renormalised)

examples:
  fieldrig weights arm.obj --rig arm.tgf -o arm.glb
  fieldrig weights arm.obj --rig arm.tgf -o arm.npy -o arm.dmat --preset high
  fieldrig weights character.glb --rig character.glb -o character-weights.csv
  fieldrig weights scan.ply --rig scan.json -o scan.npy --save-field scan.field
  fieldrig weights scan-hires.ply --rig scan.json --field scan.field -o scan-hires.npy
""",
    )
    p.add_argument("mesh", metavar="MESH", help="mesh or point cloud (OBJ, PLY, OFF, STL, GLB/GLTF, XYZ)")
    p.add_argument(
        "--rig", required=True, metavar="RIG", help="rig: TGF, JSON, or a rigged GLB/GLTF (joints read from its skin)"
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        action="append",
        metavar="OUT",
        help=f"output file, format by extension ({', '.join(WEIGHT_OUTPUT_SUFFIXES)}); repeatable",
    )
    p.add_argument(
        "--max-influences",
        type=_positive_int,
        default=4,
        metavar="N",
        help="glTF only: influences kept per vertex (more than 4 writes JOINTS_1/WEIGHTS_1, ...)",
    )
    p.add_argument(
        "--field",
        metavar="FIELD",
        help="evaluate a field saved by --save-field at MESH's vertices instead of training one "
        "(e.g. a remeshed or higher-resolution version of the same shape)",
    )
    _add_compute_options(p)
    p.set_defaults(func=cmd_weights)


def _add_coords(sub) -> None:
    p = sub.add_parser(
        "coords",
        formatter_class=_Formatter,
        help="barycentric coordinates of a mesh's vertices in a cage",
        description="Compute neural generalized barycentric coordinates of MESH's vertices with respect to CAGE "
        "(one row per mesh vertex, one column per cage vertex).",
        epilog="""\
examples:
  fieldrig coords cage.obj --mesh spot.obj -o spot-coords.npy
  fieldrig coords --auto-cage --mesh spot.obj -o spot-coords.npy          # also writes spot-coords.cage.obj
  fieldrig coords cage.obj --mesh spot.obj -o spot-coords.npy --objective tv
""",
    )
    p.add_argument(
        "cage", metavar="CAGE", nargs="?", help="closed triangulated cage (OBJ, OFF, PLY, JSON); omit with --auto-cage"
    )
    p.add_argument("--mesh", required=True, metavar="MESH", help="mesh whose vertices get coordinates")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="coordinates: .npy, .csv or .dmat")
    p.add_argument("--objective", default="dirichlet", help="training objective (dirichlet, tv, arap, ...)")
    p.add_argument(
        "--auto-cage", action="store_true", help="build a coarse enclosing cage around MESH instead of reading CAGE"
    )
    p.add_argument(
        "--steps",
        type=_positive_int,
        metavar="N",
        help="training steps (default: the preset's); the coordinates are valid after any number",
    )
    p.add_argument(
        "--cage-vertices",
        type=_positive_int,
        metavar="N",
        help="--auto-cage: number of cage vertices to aim for (default 40 in 3D, 16 for a flat mesh)",
    )
    p.add_argument(
        "--save-cage", metavar="PATH", help="where --auto-cage writes its cage (default: OUT's name + .cage.obj)"
    )
    _add_compute_options(p)
    p.set_defaults(func=cmd_coords)


def _add_deform(sub) -> None:
    p = sub.add_parser(
        "deform",
        formatter_class=_Formatter,
        help="pose a mesh with stored weights, or move it with a deformed cage",
        description="Deform MESH either by a pose (per-bone transforms, JSON) through skinning weights, or by a "
        "deformed cage through stored barycentric coordinates.",
        epilog="""\
examples:
  fieldrig deform arm.obj --rig arm.tgf --weights arm.npy --pose wave.json -o waved.obj
  fieldrig deform arm.glb --pose wave.json -o waved.ply              # rig and weights from the glb's skin
  fieldrig deform arm.obj --rig arm.tgf --weights arm.npy --pose wave.json --method dqs -o waved.glb
  fieldrig deform spot.obj --coords spot-coords.npy --cage cage.obj --deformed-cage cage-bent.obj -o bent.obj
""",
    )
    p.add_argument("mesh", metavar="MESH", help="the rest-pose mesh the weights or coordinates were computed on")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="deformed mesh: .obj, .ply, .off, .stl, .glb (.xyz for point clouds)",
    )
    skin = p.add_argument_group("skinning (with --pose)")
    skin.add_argument("--pose", metavar="POSE", help="pose JSON of per-bone rotations/translations")
    skin.add_argument(
        "--rig", metavar="RIG", help="rig (TGF, JSON, GLB); default: the skin of --weights or MESH when a glTF"
    )
    skin.add_argument(
        "--weights", metavar="W", help="weights (.npy, .csv, .dmat, or a skinned .glb/.gltf); default: MESH's skin"
    )
    skin.add_argument(
        "--method", choices=SKINNING_METHODS, default="lbs", help="linear blend or dual quaternion skinning"
    )
    cage = p.add_argument_group("cage deformation (with --deformed-cage)")
    cage.add_argument("--coords", metavar="PHI", help="coordinates of MESH's vertices (.npy, .csv, .dmat)")
    cage.add_argument("--cage", metavar="CAGE", help="the rest cage the coordinates belong to")
    cage.add_argument("--deformed-cage", metavar="CAGE2", help="the same cage with moved vertices")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_deform)


def _add_batch(sub) -> None:
    p = sub.add_parser(
        "batch",
        formatter_class=_Formatter,
        help="skinning weights for many assets, in parallel, resumable",
        description="Compute skinning weights for every asset of a manifest or a folder. One failing asset never "
        "stops the others; finished assets whose inputs and settings did not change are skipped. "
        "Each asset gets OUTDIR/NAME/ with its outputs and report.json; OUTDIR/summary.json sums up.",
        epilog="""\
a folder: every mesh (OBJ, PLY, OFF, STL, GLB, GLTF) with a rig of the same name beside
it (NAME.tgf or NAME.json), or a rigged GLB/GLTF on its own.

a manifest (JSON), paths relative to it:
  {"defaults": {"preset": "fast", "formats": ["glb", "npy"]},
   "assets": [{"name": "finger", "mesh": "finger.obj", "rig": "finger.tgf"},
              {"mesh": "legs.obj", "rig": "legs.json", "preset": "high"}]}

exit code: 0 when every asset succeeded (or was up to date), 1 otherwise.

examples:
  fieldrig batch assets/ -o out/ --jobs 2
  fieldrig batch manifest.json -o out/ --formats glb,npy,csv
  fieldrig batch manifest.json -o /shared/out --executor dask --scheduler tcp://10.0.0.5:8786
""",
    )
    p.add_argument("source", metavar="MANIFEST|DIR", help="a manifest JSON or a folder of assets")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder (created when absent)")
    p.add_argument("--jobs", "-j", type=_positive_int, default=1, metavar="N", help="assets computed at the same time")
    p.add_argument("--formats", default="npy,glb", help="comma-separated outputs per asset: npy, csv, dmat, glb, gltf")
    p.add_argument(
        "--max-influences",
        type=_positive_int,
        default=None,
        metavar="N",
        help="glTF influences per vertex (default: 4)",
    )
    p.add_argument("--save-fields", action="store_true", help="also save each trained field (NAME.field)")
    p.add_argument("--force", action="store_true", help="recompute assets even when they are up to date")
    p.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="T",
        help="torch/BLAS threads per job (default: CPU cores / jobs)",
    )
    p.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="local: worker processes on this machine; dask: a Dask distributed cluster",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="dask scheduler address (default with --executor dask: a local cluster of --jobs workers)",
    )
    p.add_argument("--device", default="auto", help="torch device for every job: auto, cpu, cuda")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument(
        "--preset",
        choices=SKINNING_PRESET_NAMES,
        default=None,
        help="preset for assets that do not set one (default: balanced)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_batch)


def _add_check(sub) -> None:
    p = sub.add_parser(
        "check",
        formatter_class=_Formatter,
        help="report what would go wrong with a mesh (and rig)",
        description="Report holes, non-manifold edges, components, self-intersections, degenerate faces, scale, "
        "handles outside the shape, and whether libigl's BBW (TetGen) could run on the mesh.",
        epilog="""\
exit code: 0 when fieldrig can compute weights on the input (warnings may remain),
1 when it cannot (e.g. handles outside the shape) or the files cannot be read.

examples:
  fieldrig check arm.obj --rig arm.tgf
  fieldrig check scan.ply --json > report.json
""",
    )
    p.add_argument("mesh", metavar="MESH", help="mesh or point cloud")
    p.add_argument("--rig", metavar="RIG", help="rig to check against the mesh")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_check)


# ============================================================================ helpers
def _usage_error(parser_args, message: str) -> int:
    print(f"fieldrig {parser_args.command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _suffix_error(args, path: str, allowed: Sequence[str], what: str) -> Optional[int]:
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        return _usage_error(
            args, f"{path}: unknown {what} format {suffix or '(no extension)'!r} (expected one of {', '.join(allowed)})"
        )
    return None


def _overwrites_input(args, outputs: Sequence[str], inputs: Sequence[Optional[str]]) -> Optional[int]:
    """Usage error when an output path is one of the inputs (inputs are never modified)."""
    sources = {Path(i).resolve() for i in inputs if i}
    for out in outputs:
        if out and Path(out).resolve() in sources:
            return _usage_error(args, f"{out}: the output would overwrite an input file; choose another name")
    return None


class ProgressBar:
    """A tqdm bar fed by :class:`fieldrig.core.progress.ProgressEvent` callbacks."""

    def __init__(self, description: str, enabled: bool):
        from tqdm import tqdm

        self._bar = tqdm(
            total=1000,
            desc=description,
            disable=None if enabled else True,
            leave=False,
            bar_format="{desc}: {percentage:3.0f}%|{bar:30}| {elapsed}<{remaining}{postfix}",
        )

    def __call__(self, event) -> bool:
        self._bar.set_postfix_str(event.stage, refresh=False)
        self._bar.update(int(round(1000 * event.fraction)) - self._bar.n)
        return True

    def close(self) -> None:
        self._bar.close()


def _say(args, message: str) -> None:
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


# ============================================================================ commands
def cmd_weights(args) -> int:
    """``fieldrig weights``: compute, then write every requested output."""
    for out in args.output:
        bad = _suffix_error(args, out, WEIGHT_OUTPUT_SUFFIXES, "weights")
        if bad is not None:
            return bad
    bad = _overwrites_input(args, args.output + [args.save_field], [args.mesh, args.rig, args.field])
    if bad is not None:
        return bad
    if args.field and args.save_field:
        return _usage_error(args, "--field evaluates a saved field; --save-field saves a newly trained one: not both")
    import time

    import fieldrig

    mesh = fieldrig.load_mesh(args.mesh)
    from fieldrig.geometry.rig import load_rig

    rig = load_rig(args.rig)
    for warning in mesh.warnings:
        _say(args, f"{args.mesh}: warning: {warning}")
    if args.field:
        W = _evaluate_saved_field(args.field, rig, mesh, args.device)
        write_weight_outputs(args.output, mesh, rig, W, args.max_influences)
        _say(
            args,
            f"{Path(args.mesh).name}: {W.shape[0]:,} vertices × {W.shape[1]} handles from {args.field} "
            f"→ {', '.join(args.output)}",
        )
        return EXIT_OK
    start = time.perf_counter()
    bar = ProgressBar(f"weights {Path(args.mesh).name}", not args.quiet)
    try:
        field, W = train_weights(
            mesh, rig, args.rig, preset=args.preset, device=args.device, seed=args.seed, progress=bar
        )
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    if args.save_field:
        field.save(args.save_field)
    write_weight_outputs(args.output, mesh, rig, W, args.max_influences)
    _say(
        args,
        f"{Path(args.mesh).name}: {W.shape[0]:,} vertices × {W.shape[1]} handles in {elapsed:.1f} s "
        f"→ {', '.join(args.output + ([args.save_field] if args.save_field else []))}",
    )
    _report_pruning(args, W)
    return EXIT_OK


def _report_pruning(args, W) -> None:
    """Say how much weight the glTF outputs' influence limit dropped, when it dropped any."""
    from fieldrig.geometry.gltf import pruned_mass

    if W.shape[1] > args.max_influences and any(Path(o).suffix.lower() in (".glb", ".gltf") for o in args.output):
        lost = pruned_mass(W, args.max_influences)
        _say(
            args,
            f"glTF: {args.max_influences} influences per vertex drop {100 * lost.mean():.2f}% of the weight "
            f"on average, {100 * lost.max():.1f}% at most (--max-influences raises the limit)",
        )


def train_weights(mesh, rig, rig_path: str, **options):
    """Fit the skinning field of a loaded mesh and rig and evaluate it at the vertices.

    Input errors that the skinning API reports against its arguments (``mesh``, ``rig``)
    are re-raised naming the files instead.

    Parameters
    ----------
    mesh : MeshData
    rig : Rig
    rig_path : str
        The rig's file, for messages.
    **options
        preset, device, seed, progress: passed to :func:`fieldrig.fit_skinning_field`.

    Returns
    -------
    field : SkinningField
    W : (n, H) float
    """
    import fieldrig
    from fieldrig.core.errors import InputError

    try:
        field = fieldrig.fit_skinning_field(mesh.V, mesh.F, rig, N=mesh.N, **options)
    except InputError as exc:
        source = {"rig": rig_path, "mesh": mesh.path, "points": mesh.path, "N": mesh.path}.get(exc.source)
        if source is None:
            raise
        raise InputError(source, exc.problem) from exc
    return field, field.evaluate(mesh.V)


def _evaluate_saved_field(path: str, rig, mesh, device: str):
    """Weights of ``mesh``'s vertices from a saved field, which must belong to ``rig``."""
    import fieldrig
    from fieldrig.core.errors import InputError

    field = fieldrig.SkinningField.load(path, device=None if device == "auto" else device)
    if list(field.handle_names) != list(rig.handle_names):
        raise InputError(path, f"was trained for handles {list(field.handle_names)}, the rig has {rig.handle_names}")
    return field.evaluate(mesh.V)


def write_weight_outputs(outputs: Sequence[str], mesh, rig, W, max_influences: int = 4) -> None:
    """Write ``W`` to each path by extension: weight tables, or a skinned glTF.

    Parameters
    ----------
    outputs : sequence of str
        Paths ending in one of :data:`WEIGHT_OUTPUT_SUFFIXES`.
    mesh : MeshData
        The mesh the weights belong to (glTF outputs embed it).
    rig : Rig
    W : (n, H) float
    max_influences : int
        Influences per vertex kept in glTF outputs.
    """
    from fieldrig.geometry.export import save_weights
    from fieldrig.geometry.gltf import write_skinned_gltf

    for out in outputs:
        if Path(out).suffix.lower() in (".glb", ".gltf"):
            write_skinned_gltf(out, mesh.V, mesh.F, rig, W, max_influences=max_influences, normals=mesh.N)
        else:
            save_weights(out, W, rig.handle_names)


def cmd_coords(args) -> int:
    """``fieldrig coords``: barycentric coordinates of a mesh's vertices in a cage."""
    bad = _suffix_error(args, args.output, WEIGHT_TABLE_SUFFIXES, "coordinates")
    if bad is not None:
        return bad
    if (args.cage is None) == (not args.auto_cage):
        return _usage_error(args, "give either CAGE or --auto-cage (exactly one)")
    if (args.save_cage or args.cage_vertices) and not args.auto_cage:
        return _usage_error(args, "--save-cage and --cage-vertices only apply with --auto-cage")
    bad = _overwrites_input(args, [args.output, args.save_cage, args.save_field], [args.mesh, args.cage])
    if bad is not None:
        return bad
    import time
    from dataclasses import replace

    import fieldrig
    from fieldrig.geometry.cage import load_cage, save_cage
    from fieldrig.geometry.export import save_weights

    mesh = fieldrig.load_mesh(args.mesh)
    if args.auto_cage:
        if mesh.F is None:
            raise fieldrig.InputError(args.mesh, "--auto-cage needs a triangle mesh, not a point cloud")
        cage = fieldrig.auto_cage(mesh.V, mesh.F, vertices=args.cage_vertices)
        cage_path = args.save_cage or str(Path(args.output).with_suffix("")) + ".cage.obj"
        save_cage(cage, cage_path)
        _say(args, f"automatic cage: {len(cage.V)} vertices → {cage_path}")
    else:
        cage = load_cage(args.cage)
    points = _points_in_cage_space(mesh, cage.V.shape[1], args.mesh)
    start = time.perf_counter()
    bar = ProgressBar(f"coords {Path(args.mesh).name}", not args.quiet)
    try:
        preset = fieldrig.BARYCENTRIC_PRESETS[args.preset]
        field = fieldrig.fit_barycentric_field(
            cage,
            objective=args.objective,
            preset=replace(preset, steps=args.steps) if args.steps else preset,
            seed=args.seed,
            device=args.device,
            progress=bar,
        )
        Phi = field.evaluate(points)
    finally:
        bar.close()
    if args.save_field:
        field.save(args.save_field)
    save_weights(args.output, Phi, [f"cage{i}" for i in range(Phi.shape[1])])
    _say(
        args,
        f"{Path(args.mesh).name}: {Phi.shape[0]:,} vertices × {Phi.shape[1]} cage vertices in "
        f"{time.perf_counter() - start:.1f} s → {args.output}",
    )
    return EXIT_OK


def _points_in_cage_space(mesh, dim: int, source: str):
    """The mesh's vertices in the cage's dimension: a 2D cage takes x, y of a flat (constant z) mesh."""
    from fieldrig.core.errors import InputError

    if dim == 3:
        return mesh.V
    z = mesh.V[:, 2]
    if z.max() - z.min() > 1e-9 * max(1.0, float(abs(mesh.V).max())):
        raise InputError(source, "a 2D cage needs a flat mesh (constant z); this one is not")
    return mesh.V[:, :2]


def cmd_deform(args) -> int:
    """``fieldrig deform``: pose through skinning weights, or move through a deformed cage."""
    from fieldrig.core.vocabulary import MESH_OUTPUT_SUFFIXES

    bad = _suffix_error(args, args.output, MESH_OUTPUT_SUFFIXES, "mesh")
    if bad is not None:
        return bad
    by_pose, by_cage = args.pose is not None, args.deformed_cage is not None
    if by_pose == by_cage:
        return _usage_error(args, "give either --pose (skinning) or --deformed-cage (cage deformation)")
    if by_cage and (args.coords is None or args.cage is None):
        return _usage_error(args, "cage deformation needs --coords PHI and --cage CAGE with --deformed-cage")
    if by_pose and (args.coords or args.cage):
        return _usage_error(args, "--coords and --cage belong to cage deformation, not to --pose")
    bad = _overwrites_input(
        args, [args.output], [args.mesh, args.weights, args.rig, args.pose, args.coords, args.cage, args.deformed_cage]
    )
    if bad is not None:
        return bad
    import fieldrig
    from fieldrig.geometry.export import save_mesh

    mesh = fieldrig.load_mesh(args.mesh)
    X = _posed_vertices(args, mesh) if by_pose else _caged_vertices(args, mesh)
    save_mesh(args.output, X, mesh.F)
    _say(args, f"{Path(args.mesh).name}: {len(X):,} vertices deformed → {args.output}")
    return EXIT_OK


def _posed_vertices(args, mesh):
    import numpy as np

    from fieldrig.core.errors import InputError
    from fieldrig.geometry.deform import dual_quaternion_skinning, linear_blend_skinning
    from fieldrig.geometry.export import load_weights
    from fieldrig.geometry.gltf import read_gltf_skin
    from fieldrig.geometry.pose import Pose, pose_transforms

    gltf = (".glb", ".gltf")
    weights_path = args.weights or (args.mesh if Path(args.mesh).suffix.lower() in gltf else None)
    if weights_path is None:
        raise InputError("--weights", "give the weights file (the mesh is not a skinned glTF)")
    skin = read_gltf_skin(weights_path) if Path(weights_path).suffix.lower() in gltf else None
    from fieldrig.geometry.rig import load_rig

    rig = load_rig(args.rig) if args.rig else skin.rig if skin else None
    if rig is None:
        raise InputError("--rig", "give the rig the weights were computed for")
    W = skin.handle_weights() if skin else load_weights(weights_path)
    if W.shape != (len(mesh.V), rig.n_handles):
        raise InputError(
            weights_path,
            f"weights have shape {W.shape}; the mesh has {len(mesh.V)} vertices and the rig {rig.n_handles} handles",
        )
    T = pose_transforms(rig, Pose.load(args.pose))
    skinning = dual_quaternion_skinning if args.method == "dqs" else linear_blend_skinning
    return np.asarray(skinning(mesh.V, W, T))


def _caged_vertices(args, mesh):
    import numpy as np

    from fieldrig.core.errors import InputError
    from fieldrig.geometry.cage import load_cage
    from fieldrig.geometry.cage_deform import load_cage_pose
    from fieldrig.geometry.export import load_weights

    Phi = load_weights(args.coords)
    rest = load_cage(args.cage)
    # A posed cage may fold or self-intersect: only its size and dimension must match.
    moved = load_cage_pose(args.deformed_cage, rest)
    if Phi.shape != (len(mesh.V), len(rest.V)):
        raise InputError(
            args.coords,
            f"coordinates have shape {Phi.shape}; expected ({len(mesh.V)}, {len(rest.V)}) "
            "(mesh vertices × cage vertices)",
        )
    X = Phi @ moved
    return X if X.shape[1] == 3 else np.c_[X, mesh.V[:, 2]]  # a 2D cage moves x, y


def cmd_batch(args) -> int:
    """``fieldrig batch``: many assets, parallel, resumable; exit 1 when any failed."""
    from fieldrig.batch import BatchOptions, discover_assets, run_batch

    formats = [f.strip().lower().lstrip(".") for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if "." + f not in WEIGHT_OUTPUT_SUFFIXES]
    if not formats or unknown:
        return _usage_error(
            args, f"--formats: unknown {', '.join(unknown) or '(empty)'} (expected some of npy, csv, dmat, glb, gltf)"
        )
    if args.scheduler and args.executor != "dask":
        return _usage_error(args, "--scheduler needs --executor dask")
    if args.executor == "local" and args.device not in ("auto", "cpu"):
        from fieldrig.neural.device import resolve_device

        resolve_device(args.device)  # fail once here rather than in every job
    defaults = {"formats": formats, "seed": args.seed, "device": args.device}
    if args.preset:
        defaults["preset"] = args.preset
    if args.max_influences:
        defaults["max_influences"] = args.max_influences
    if args.save_fields:
        defaults["save_field"] = True
    assets = discover_assets(args.source, defaults)
    options = BatchOptions(
        jobs=args.jobs,
        threads=args.threads,
        force=args.force,
        executor=args.executor,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )
    summary = run_batch(assets, args.output, options)
    print(summary.table())
    return EXIT_OK if summary.all_succeeded else EXIT_FAILED


def cmd_check(args) -> int:
    """``fieldrig check``: print what would go wrong; exit 1 when weights cannot be computed."""
    import dataclasses
    import json

    import fieldrig
    from fieldrig.geometry.mesh_check import check_mesh, handles_outside

    mesh = fieldrig.load_mesh(args.mesh)
    from fieldrig.geometry.rig import load_rig

    rig = load_rig(args.rig) if args.rig else None
    report = check_mesh(mesh.V, mesh.F, args.mesh)
    lines = [f"{args.mesh}:"] + report.summary() + [f"Warning: {w}" for w in mesh.warnings]
    outside: List[str] = []
    if rig is not None:
        outside = handles_outside(mesh.V, mesh.F, rig, N=mesh.N)
        lines.append(
            f"{args.rig}: {len(rig.bones)} bones, {len(rig.point_handles)} point handles, "
            f"{rig.n_handles} weight columns."
        )
        lines += [o[0].upper() + o[1:] + "." for o in outside] or ["Every handle lies inside the shape."]
    verdict = (
        "fieldrig cannot compute weights: handles outside the shape."
        if outside
        else "fieldrig can compute weights on this input."
    )
    if args.json:
        data = {
            "mesh": args.mesh,
            "rig": args.rig,
            "ok": not outside,
            "handles_outside": outside,
            "warnings": list(mesh.warnings),
            "report": dataclasses.asdict(report),
            "summary": lines + [verdict],
        }
        print(json.dumps(data, indent=2, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
    else:
        print("\n".join(lines + [verdict]))
    return EXIT_FAILED if outside else EXIT_OK


# ============================================================================ main
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("fieldrig: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # one line for the user; --debug for the traceback
        if args.debug:
            raise
        print(f"fieldrig {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED


def _one_line(exc: BaseException) -> str:
    from fieldrig.core.errors import InputError

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (InputError, OSError)):
        return text
    try:
        from fieldrig.core.progress import Cancelled
    except ImportError:  # torch missing: nothing can have been cancelled
        Cancelled = ()
    if Cancelled and isinstance(exc, Cancelled):
        return f"cancelled ({text})"
    return f"{type(exc).__name__}: {text} (rerun with --debug for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
