"""The ``fieldrig`` command: skinning weights, barycentric coordinates, deformation, batch
runs and mesh checks from the shell.

Exit codes: 0 success; 1 a bad input file or a failed asset (one line on stderr, no
traceback; ``--debug`` shows it); 2 a usage error (bad or missing arguments); 130
interrupted (SIGINT), 143 terminated (SIGTERM). Outputs that cannot be written are refused
before any work. A command's outputs are written to temporary files and committed together
(all new, or all as they were); a signal that arrives during the commit waits for the
command to finish. No input is ever modified.

Each subcommand is an ``_add_NAME`` (its parser) and ``cmd_NAME`` (the command) pair.
Importing this module and building the parser import nothing heavy: torch, Qt and
polyscope load inside the commands that need them.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Sequence

from fieldrig.core.files import same_file
from fieldrig.core.vocabulary import (
    DEFAULT_COORDINATE_OBJECTIVE,
    DEFAULT_SKINNING_PRESET,
    IMAGE_SUFFIXES,
    RENDER_VIEWS,
    SKINNING_METHODS,
    SKINNING_PRESET_NAMES,
    WEIGHT_OUTPUT_SUFFIXES,
    WEIGHT_TABLE_SUFFIXES,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


_MAIN_EPILOG = """\
examples:
  fieldrig weights arm.obj --rig arm.tgf -o arm.glb
  fieldrig weights arm.obj --rig arm.tgf -o arm.npy -o arm.csv --preset fast
  fieldrig weights character.glb -o reskinned.glb
  fieldrig coords cage.obj --mesh spot.obj -o spot-coords.npy
  fieldrig deform arm.obj --rig arm.tgf --weights arm.npy --pose wave.json -o waved.obj
  fieldrig batch assets/ -o out/ --jobs 2
  fieldrig check arm.obj --rig arm.tgf

exit codes: 0 ok, 1 failed input or asset, 2 usage error, 130 interrupted, 143 terminated.
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


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other error: the
    problem and where the help is (the subcommands' parsers are of this class too)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ============================================================================ parser
def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to render the docs)."""
    parser = _Parser(
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
    _add_view(sub)
    _add_render(sub)
    return parser


def _positive_int(text: str) -> int:
    return _int_from(text, 1, "a positive integer")


def _non_negative_int(text: str) -> int:
    return _int_from(text, 0, "a non-negative integer")


def _int_from(text: str, lowest: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
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
    p.add_argument("--seed", type=_non_negative_int, default=0, help="random seed; the same seed gives the same result")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _add_deform_selection(p: argparse.ArgumentParser) -> None:
    """Options choosing which joints/handles deform, and how strict the placement check is."""
    p.add_argument(
        "--deform-joints",
        action="append",
        default=[],
        metavar="GLOB",
        help="only joints/handles whose name matches GLOB deform (repeatable; shell globs, e.g. 'DEF-*')",
    )
    p.add_argument(
        "--exclude-joints",
        action="append",
        default=[],
        metavar="GLOB",
        help="joints/handles whose name matches GLOB do not deform: their weights stay zero (repeatable)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse a deforming handle that lies partly or wholly outside the shape (default: use its "
        "inside part, exclude it with a warning when none is inside)",
    )


def _add_weights(sub) -> None:
    p = sub.add_parser(
        "weights",
        formatter_class=_Formatter,
        help="skinning weights of a mesh for a rig, or of a skinned character for its own skeleton",
        description="Compute mesh-free biharmonic skinning weights of MESH's vertices for the handles of RIG. "
        "A skinned glTF (or FBX) needs no --rig: its skin's joints are the columns, and a glTF output is the "
        "input file with only its skin weights replaced. FBX is read, not written.",
        epilog="""\
output formats (by extension of -o; repeat -o for several):
  .npy        float64 array, one row per vertex, one column per handle (a skin: per joint)
  .csv        header of handle (joint) names, then one row per vertex
  .dmat       libigl ASCII DMAT (igl.readDMAT, gpytoolbox.read_dmat)
  .glb/.gltf  a skinned input: the same file re-skinned (nodes, animations, materials,
              everything but JOINTS_n/WEIGHTS_n unchanged); a mesh and a rig: the mesh
              with the rig's skeleton and skin. At most --max-influences per vertex,
              pruned and renormalised.
FBX files are read, never written: for an FBX input a glTF output is a new file with
its skeleton, skinned meshes and clips sampled at the file's frame rate.
A file with several skins gets one field per skin (tables: NAME_skin<k>.npy ...).

joints outside the shape: a handle partly outside keeps its inside part; one wholly
outside (an IK target, a root on the floor) is excluded with a warning (--strict refuses).

examples:
  fieldrig weights arm.obj --rig arm.tgf -o arm.glb
  fieldrig weights arm.obj --rig arm.tgf -o arm.npy -o arm.dmat --preset high
  fieldrig weights character.glb -o reskinned.glb --max-influences 8
  fieldrig weights character.glb -o weights.csv --exclude-joints 'IK_*' --exclude-joints root
  fieldrig weights scan.ply --rig scan.json -o scan.npy --save-field scan.field
  fieldrig weights scan-hires.ply --rig scan.json --field scan.field -o scan-hires.npy
""",
    )
    p.add_argument(
        "mesh", metavar="MESH", help="mesh, point cloud, or skinned character (OBJ, PLY, OFF, STL, GLB/GLTF, FBX, XYZ)"
    )
    p.add_argument(
        "--rig",
        metavar="RIG",
        help="rig: TGF, JSON, or a skinned GLB/GLTF/FBX (its skin's joints); default for a skinned MESH: its own skin",
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
    _add_deform_selection(p)
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
    p.add_argument(
        "--objective", default=DEFAULT_COORDINATE_OBJECTIVE, help="training objective (dirichlet, tv, arap, ...)"
    )
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
  fieldrig deform character.glb --animation Run --time 0.5 -o run.obj  # the file's clip and weights
  fieldrig deform character.glb --animation Run --frame 12 --weights new.npy -o run12.obj
  fieldrig deform spot.obj --coords spot-coords.npy --cage cage.obj --deformed-cage cage-bent.obj -o bent.obj

--frame N is the time N / 30 s from the clip's start; times outside a clip hold its
first or last pose. An animated character is written where the clip puts it (world space).
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
    skin.add_argument("--animation", metavar="NAME", help="a skinned file's animation clip (instead of --pose)")
    skin.add_argument("--time", type=float, metavar="T", help="--animation: seconds from the clip's start (default 0)")
    skin.add_argument("--frame", type=int, metavar="N", help="--animation: frame N at 30 frames per second")
    skin.add_argument(
        "--rig", metavar="RIG", help="rig (TGF, JSON, GLB); default: the skin of --weights or MESH when a glTF"
    )
    skin.add_argument(
        "--weights",
        metavar="W",
        help="weights (.npy, .csv, .dmat — for a skinned MESH one column per skin joint — or a skinned "
        ".glb/.gltf); default: MESH's own skin weights",
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
        "stops the others; finished assets whose inputs, settings and outputs did not change are skipped. "
        "Each asset gets OUTDIR/NAME/ with its outputs and report.json; OUTDIR/summary.json sums up.",
        epilog="""\
a folder: every mesh (OBJ, PLY, OFF, STL, GLB, GLTF, FBX) with a rig of the same name
beside it (NAME.tgf or NAME.json), or a skinned GLB/GLTF/FBX on its own (its skin is the rig).

a manifest (JSON), paths relative to it:
  {"defaults": {"preset": "fast", "formats": ["glb", "npy"]},
   "assets": [{"name": "finger", "mesh": "finger.obj", "rig": "finger.tgf"},
              {"mesh": "legs.obj", "rig": "legs.json", "preset": "high"}]}
an asset has a mesh, a rig (not needed for a skinned GLB/GLTF/FBX), a name (default: the
mesh's stem) and may set preset, formats, seed, device, max_influences, save_field (its own
override the manifest's "defaults", which override the options). Unknown keys, values of the
wrong type, missing files and unsafe names are refused before any work (exit 2).

names: an asset's name is its folder OUTDIR/NAME, so it is one plain folder name: no '/' or
'\\', not empty, not starting with '.', not summary.json or a device name (CON, NUL, ...).
Nothing is written outside OUTDIR; an OUTDIR/NAME that links out of it is refused.

resume: an asset is skipped when its report.json says ok for the same input files and
settings and every output still has the SHA-256 the report recorded (an output edited or
cut short is computed again); --force recomputes every asset.

interrupts: summary.json is removed when a run starts and written when it ends. Ctrl-C
(SIGINT) or SIGTERM stops the workers, writes the summary of what finished (the rest
failed: interrupted) and exits 130 / 143; a run killed outright leaves no summary. An
asset's outputs and report are written together (all new or all as they were, never
truncated); the temporary files of a killed run are removed by the next run.

exit codes: 0 every asset succeeded or was up to date, 1 some asset failed, 2 a bad
manifest, asset name or output folder (nothing computed), 130 / 143 interrupted.

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
        description="Report holes, non-manifold edges, components, self-intersections, dropped faces, scale, "
        "handles inside / partly / wholly outside the shape and which are excluded, a skinned file's skins, "
        "joints, parts and clips, and whether libigl's BBW (TetGen) could run on the mesh.",
        epilog="""\
exit code: 0 when fieldrig can compute weights on the input (warnings may remain),
1 when it cannot (no handle can deform; with --strict, any handle outside the shape)
or the files cannot be read.

examples:
  fieldrig check arm.obj --rig arm.tgf
  fieldrig check character.glb
  fieldrig check scan.ply --json > report.json
""",
    )
    p.add_argument("mesh", metavar="MESH", help="mesh, point cloud or skinned character")
    p.add_argument("--rig", metavar="RIG", help="rig to check against the mesh (default for a skinned MESH: its skin)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_deform_selection(p)
    p.set_defaults(func=cmd_check)


def _add_view(sub) -> None:
    p = sub.add_parser(
        "view",
        formatter_class=_Formatter,
        help="open the rigging app (3D view + panel)",
        description="Open the desktop rigging app.",
        epilog="""\
examples:
  fieldrig view
  fieldrig view arm.obj --rig arm.tgf
  fieldrig view spot.obj --cage spot-cage.obj
  fieldrig view --project arm.fieldrig

Two windows: the 3D view (polyscope) and the panel (Qt). Files can also be dropped on
either window.
""",
    )
    p.add_argument("mesh", metavar="MESH", nargs="?", help="mesh, soup, point cloud or skinned character to open")
    p.add_argument("--rig", metavar="RIG", help="skeleton: TGF, JSON, or a rigged GLB/GLTF")
    p.add_argument("--cage", metavar="CAGE", help="cage for cage deformation (OBJ, OFF, PLY, JSON)")
    p.add_argument("--project", metavar="FILE", help="a .fieldrig project to open")
    p.set_defaults(func=cmd_view)


def _add_render(sub) -> None:
    p = sub.add_parser(
        "render",
        formatter_class=_Formatter,
        help="draw a mesh, its weights and a pose to an image, headless",
        description="Render MESH (posed, coloured by its weights, with its skeleton) to a PNG without a window.",
        epilog="""\
examples:
  fieldrig render arm.obj --rig arm.tgf --weights arm.npy -o arm.png
  fieldrig render arm.obj --rig arm.tgf --weights arm.npy --pose wave.json -o waved.png --method dqs
  fieldrig render character.glb --pose walk.json -o thumb.png --size 256 256     # rig + weights from the glTF skin
  fieldrig render character.glb --animation Run --time 0.4 -o run.png            # the file's own clip
  fieldrig render arm.obj --rig arm.tgf --pose wave.json -o waved.png --preset fast  # computes the weights first

Draws through polyscope's EGL backend: no window and no display are needed.
""",
    )
    p.add_argument("mesh", metavar="MESH", help="mesh or point cloud (a rigged GLB/GLTF brings its rig and weights)")
    p.add_argument("--rig", metavar="RIG", help="skeleton: TGF, JSON or a rigged GLB/GLTF")
    p.add_argument(
        "--weights", metavar="W", help="weights (NPY, CSV, DMAT); computed when a pose needs them and none are given"
    )
    p.add_argument("--pose", metavar="POSE", help="pose JSON (fieldrig pose format)")
    p.add_argument("--animation", metavar="NAME", help="a skinned file's animation clip (instead of --pose)")
    p.add_argument("--time", type=float, metavar="T", help="--animation: seconds from the clip's start")
    p.add_argument("--frame", type=int, metavar="N", help="--animation: frame N at 30 frames per second")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="image to write (.png, .jpg)")
    p.add_argument("--method", choices=SKINNING_METHODS, default="lbs", help="skinning method for --pose")
    p.add_argument(
        "--color",
        default="dominant",
        metavar="HOW",
        help="'dominant' (each vertex in its main handle's colour), 'none', or a handle name "
        "(that handle's weight, viridis)",
    )
    p.add_argument("--no-skeleton", action="store_true", help="do not draw bones and joints")
    p.add_argument("--view", choices=RENDER_VIEWS, default=RENDER_VIEWS[0], help="camera direction (y up)")
    p.add_argument(
        "--size", nargs=2, type=_positive_int, default=(1024, 768), metavar=("W", "H"), help="image size in pixels"
    )
    p.add_argument(
        "--preset",
        choices=SKINNING_PRESET_NAMES,
        default="fast",
        help="preset used when the weights have to be computed",
    )
    p.add_argument("--device", default="auto", help="torch device when the weights have to be computed")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=cmd_render)


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
    import os

    sources = {os.path.realpath(i) for i in inputs if i}
    for out in outputs:
        if out and os.path.realpath(out) in sources:
            return _usage_error(args, f"{out}: the output would overwrite an input file; choose another name")
    return None


def _check_outputs(args, outputs: Sequence[Optional[str]]) -> None:
    """Before any work: refuse outputs that cannot be written (naming the path and why),
    complete the commits of runs killed while renaming their outputs (saying which), and
    remove the temporary files that killed runs left beside them."""
    from fieldrig.core.atomic import check_writable, finish_interrupted_commits, remove_orphaned_temporaries

    paths = [o for o in outputs if o]
    check_writable(paths)
    completed = [t for folder in {Path(p).absolute().parent for p in paths} for t in finish_interrupted_commits(folder)]
    if completed:
        names = ", ".join(str(t) for t in completed)
        print(
            f"fieldrig {args.command}: completed the outputs of a run killed while writing them: {names}",
            file=sys.stderr,
        )
    for path in paths:
        remove_orphaned_temporaries(path)


@contextmanager
def _committed(args, outputs: Sequence[Optional[str]]) -> Iterator[None]:
    """The block writes ``outputs``; they are committed together after it (all new, or all
    as they were when the block fails or is interrupted). Once the commit starts, SIGINT and
    SIGTERM wait for the command to finish: its outputs are complete."""
    from fieldrig.core.atomic import atomic_outputs

    with atomic_outputs([o for o in outputs if o]):
        yield
        signals = getattr(args, "stop_signals", None)
        if signals is not None:
            signals.hold()


def _say(args, message: str) -> None:
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


# ============================================================================ commands
def _warn(args, source: str, warnings: Sequence[str]) -> None:
    """One line per warning, after a line that counts them."""
    if warnings:
        _say(args, f"{source}: {len(warnings)} warning(s):")
        for w in warnings:
            _say(args, f"  warning: {w}")


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
    from fieldrig.geometry.skinned_asset import SKINNED_SUFFIXES

    if args.rig is None and Path(args.mesh).suffix.lower() not in SKINNED_SUFFIXES:
        return _usage_error(args, f"--rig is required: {args.mesh} cannot hold a skin (only GLB/GLTF/FBX can)")
    _check_outputs(args, args.output + [args.save_field])
    from fieldrig import workflow

    subjects = workflow.load_subjects(args.mesh, args.rig, args.deform_joints, args.exclude_joints)
    results = []
    for subject in subjects:
        _warn(args, subject.name, subject.warnings)
        if args.field:
            if len(subjects) > 1:
                from fieldrig.core.errors import InputError

                raise InputError(args.field, "a saved field belongs to one skin; this file has several")
            results.append(workflow.evaluate_saved_field(args.field, subject, args.device))
            continue
        bar = workflow.ProgressBar(f"weights {subject.name}", not args.quiet)
        try:
            result = workflow.fit_subject(
                subject, args.preset, args.device, args.seed, strict=args.strict, progress=bar
            )
        finally:
            bar.close()
        _warn(args, subject.name, result.warnings)
        results.append(result)
    files = workflow.output_files(args.output + ([args.save_field] if args.save_field else []), len(results))
    with _committed(args, [f for group in files for f in group]):
        written = workflow.write_outputs(args.output, results, args.max_influences)
        if args.save_field:
            written += workflow.save_fields(args.save_field, results)
    for r in results:
        rig = r.subject.rig
        deforming = len(r.fitted.columns)
        how = f"from {args.field}" if args.field else f"in {r.seconds:.1f} s"
        columns = f"{r.W.shape[1]} {'joints' if rig.is_skeleton else 'handles'}"
        if deforming < r.W.shape[1]:
            columns += f" ({deforming} deforming)"
        _say(args, f"{r.subject.name}: {r.W.shape[0]:,} vertices × {columns} {how}")
        if any(Path(o).suffix.lower() in (".glb", ".gltf") for o in args.output):
            lost = workflow.pruning_note(r.W, args.max_influences)
            if lost is not None and lost[1] > 0:
                _say(
                    args,
                    f"glTF: {args.max_influences} influences per vertex drop {100 * lost[0]:.2f}% of the weight "
                    f"on average, {100 * lost[1]:.1f}% at most (--max-influences raises the limit)",
                )
    _say(args, f"→ {', '.join(written)}")
    return EXIT_OK


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
    cage_path = args.save_cage or str(Path(args.output).with_suffix("")) + ".cage.obj" if args.auto_cage else None
    _check_outputs(args, [args.output, cage_path, args.save_field])
    import time
    from dataclasses import replace

    import fieldrig
    from fieldrig import workflow
    from fieldrig.geometry.cage import load_cage, save_cage
    from fieldrig.geometry.export import save_weights

    mesh = fieldrig.load_mesh(args.mesh)
    if args.auto_cage:
        if mesh.F is None:
            raise fieldrig.InputError(args.mesh, "--auto-cage needs a triangle mesh, not a point cloud")
        cage = fieldrig.auto_cage(mesh.V, mesh.F, vertices=args.cage_vertices)
        _say(args, f"automatic cage: {len(cage.V)} vertices (written to {cage_path} with the coordinates)")
    else:
        cage = load_cage(args.cage)
    points = _points_in_cage_space(mesh, cage, args.mesh, args.cage or cage_path)
    start = time.perf_counter()
    bar = workflow.ProgressBar(f"coords {Path(args.mesh).name}", not args.quiet)
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
    finally:
        bar.close()
    bar = workflow.ProgressBar(f"coords {Path(args.mesh).name}: {len(points):,} points", not args.quiet)
    try:
        Phi = field.evaluate(points, progress=bar)
    finally:
        bar.close()
    with _committed(args, [args.output, cage_path, args.save_field]):
        if cage_path:
            save_cage(cage, cage_path)
        if args.save_field:
            field.save(args.save_field)
        save_weights(args.output, Phi, [f"cage{i}" for i in range(Phi.shape[1])])
    _say(
        args,
        f"{Path(args.mesh).name}: {Phi.shape[0]:,} vertices × {Phi.shape[1]} cage vertices in "
        f"{time.perf_counter() - start:.1f} s → {args.output}",
    )
    return EXIT_OK


def _points_in_cage_space(mesh, cage, mesh_source: str, cage_source: str):
    """The mesh's vertices in the cage's dimension: a 2D cage takes x, y of a flat (constant z) mesh."""
    import numpy as np

    from fieldrig.core.errors import InputError

    if cage.dim == 3:
        return mesh.V
    z = mesh.V[:, 2]
    if z.max() - z.min() > 1e-9 * float(np.linalg.norm(np.ptp(mesh.V[:, :2], axis=0))):
        raise InputError(
            cage_source,
            f"is a flat cage (a 2D polygon of {len(cage.V)} vertices) but {Path(mesh_source).name} is not flat: "
            "a 3D mesh needs a closed triangulated cage around it (at least 4 vertices)",
        )
    return mesh.V[:, :2]


def cmd_deform(args) -> int:
    """``fieldrig deform``: pose through skinning weights (a pose or a clip), or move through a deformed cage."""
    from fieldrig.core.vocabulary import MESH_OUTPUT_SUFFIXES

    bad = _suffix_error(args, args.output, MESH_OUTPUT_SUFFIXES, "mesh")
    if bad is not None:
        return bad
    by_pose, by_clip, by_cage = args.pose is not None, args.animation is not None, args.deformed_cage is not None
    if by_pose + by_clip + by_cage != 1:
        return _usage_error(
            args, "give one of --pose (skinning), --animation (a skinned file's clip) or --deformed-cage (cage)"
        )
    if (args.time is not None or args.frame is not None) and not by_clip:
        return _usage_error(args, "--time and --frame belong to --animation")
    if by_cage and (args.coords is None or args.cage is None):
        return _usage_error(args, "cage deformation needs --coords PHI and --cage CAGE with --deformed-cage")
    if not by_cage and (args.coords or args.cage):
        return _usage_error(args, "--coords and --cage belong to cage deformation")
    bad = _overwrites_input(
        args, [args.output], [args.mesh, args.weights, args.rig, args.pose, args.coords, args.cage, args.deformed_cage]
    )
    if bad is not None:
        return bad
    _check_outputs(args, [args.output])
    from fieldrig.geometry.export import save_mesh

    if by_cage:
        import fieldrig

        mesh = fieldrig.load_mesh(args.mesh)
        X = _caged_vertices(args, mesh)
    else:
        mesh, X = _skinned_vertices(args)
    with _committed(args, [args.output]):
        save_mesh(args.output, X, mesh.F)
    _say(args, f"{Path(args.mesh).name}: {len(X):,} vertices deformed → {args.output}")
    return EXIT_OK


def _skinned_vertices(args):
    """The mesh and its vertices posed by --pose or --animation, with the weights of --weights or the file."""
    from fieldrig import workflow
    from fieldrig.core.errors import InputError
    from fieldrig.geometry.export import load_weights
    from fieldrig.geometry.pose import Pose, pose_transforms

    gltf = (".glb", ".gltf")
    if args.animation is not None or (
        args.rig is None and workflow.is_skinned_file(args.mesh) and args.weights is None
    ):
        subject = _skin_subject(args)
        if args.weights and Path(args.weights).suffix.lower() not in gltf:
            W = load_weights(args.weights)
        elif args.weights:
            W = workflow.source_weights(workflow.asset_subjects(args.weights)[0], subject.rig)
        else:
            W = workflow.source_weights(subject)
        if args.animation is not None:
            T = workflow.animation_transforms(subject.asset, args.animation, args.time, args.frame)
        else:
            T = pose_transforms(subject.rig, Pose.load(args.pose))
        _check_weights(W, subject, args.weights or args.mesh)
        return subject.mesh, workflow.deformed(subject.mesh.V, W, T, args.method)
    weights_path = args.weights or (args.mesh if Path(args.mesh).suffix.lower() in gltf else None)
    if weights_path is None:
        raise InputError("--weights", "give the weights file (the mesh is not a skinned glTF)")
    import fieldrig

    mesh = fieldrig.load_mesh(args.mesh)
    source = workflow.asset_subjects(weights_path)[0] if Path(weights_path).suffix.lower() in gltf else None
    from fieldrig.geometry.rig import load_rig

    rig = load_rig(args.rig) if args.rig else source.rig if source else None
    if rig is None:
        raise InputError("--rig", "give the rig the weights were computed for")
    W = workflow.source_weights(source, rig) if source else load_weights(weights_path)
    subject = workflow.Subject(Path(args.mesh).name, mesh, rig, str(args.rig or weights_path))
    _check_weights(W, subject, weights_path)
    return mesh, workflow.deformed(mesh.V, W, pose_transforms(rig, Pose.load(args.pose)), args.method)


def _skin_subject(args):
    """The first skin of a skinned MESH (``--animation`` and posing a character with its own skin)."""
    from fieldrig import workflow
    from fieldrig.core.errors import InputError

    if not workflow.is_skinned_file(args.mesh):
        raise InputError(args.mesh, "--animation needs a skinned glTF or FBX file with animation clips")
    if args.rig is not None and not same_file(args.rig, args.mesh):
        raise InputError("--rig", "a skinned file is posed by its own skeleton; leave --rig out")
    return workflow.asset_subjects(args.mesh)[0]


def _check_weights(W, subject, source: str) -> None:
    from fieldrig.core.errors import InputError

    expected = (len(subject.mesh.V), subject.rig.n_handles)
    if W.shape != expected:
        what = "joints" if subject.rig.is_skeleton else "handles"
        raise InputError(
            source,
            f"weights have shape {W.shape}; the mesh has {expected[0]} vertices and the rig {expected[1]} {what}",
        )


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
    """``fieldrig batch``: many assets, parallel, resumable; exit 1 when any failed, 2 for a
    bad manifest or output folder (before any work), 130/143 when stopped by SIGINT/SIGTERM."""
    from fieldrig.batch import BatchInterrupted, BatchOptions, discover_assets, run_batch
    from fieldrig.core.errors import InputError

    formats = [f.strip().lower().lstrip(".") for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if "." + f not in WEIGHT_OUTPUT_SUFFIXES]
    if not formats or unknown:
        return _usage_error(
            args,
            f"--formats: unknown {', '.join(unknown) or '(empty)'} "
            f"(expected some of {', '.join(s.lstrip('.') for s in WEIGHT_OUTPUT_SUFFIXES)})",
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
    options = BatchOptions(
        jobs=args.jobs,
        threads=args.threads,
        force=args.force,
        executor=args.executor,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )
    try:
        summary = run_batch(discover_assets(args.source, defaults), args.output, options)
    except InputError as exc:  # the manifest, a name or the output folder: nothing was computed
        return _usage_error(args, _one_line(exc))
    except BatchInterrupted as exc:
        from fieldrig.core.interrupts import EXIT_CODES

        where = Path(args.output) / "summary.json"
        print(f"fieldrig batch: interrupted by {exc.signum.name}; {where} lists what finished", file=sys.stderr)
        return EXIT_CODES[exc.signum]
    print(summary.table())
    return EXIT_OK if summary.all_succeeded else EXIT_FAILED


def cmd_check(args) -> int:
    """``fieldrig check``: print what would go wrong; exit 1 when weights cannot be computed."""
    import dataclasses
    import json

    import numpy as np

    from fieldrig import workflow
    from fieldrig.geometry.handle_placement import place_handles
    from fieldrig.geometry.mesh_check import check_mesh

    if args.rig is None and not workflow.is_skinned_file(args.mesh):
        import fieldrig

        subjects = [workflow.Subject(Path(args.mesh).name, fieldrig.load_mesh(args.mesh), None, "")]
    else:
        subjects = workflow.load_subjects(args.mesh, args.rig, args.deform_joints, args.exclude_joints)
    lines = [f"{args.mesh}:"]
    reports, ok = [], True
    for subject in subjects:
        mesh, rig, asset = subject.mesh, subject.rig, subject.asset
        report = check_mesh(mesh.V, mesh.F, mesh.path)
        entry = {"name": subject.name, "report": dataclasses.asdict(report), "warnings": subject.warnings}
        if asset is not None:
            clips = ", ".join(f"{c.name} ({c.duration:.2f} s)" for c in asset.clips) or "none"
            parts = ", ".join(f"{p.name} ({len(p.V):,} vertices)" for p in asset.parts)
            lines.append(
                f"{subject.name}: skin of {asset.skeleton.n_joints} joints; {len(asset.parts)} part(s): {parts}; "
                f"animations: {clips}."
            )
            entry.update(
                joints=asset.skeleton.names, parts=[p.name for p in asset.parts], clips=[c.name for c in asset.clips]
            )
        lines += report.summary() + [f"Warning: {w}" for w in subject.warnings]
        if rig is not None:
            placement = place_handles(mesh.V, mesh.F, rig, N=mesh.N)
            excluded = [rig.handle_names[h] for h in np.flatnonzero(~rig.deform)]
            partly = [h for h in placement.partly_outside if rig.deform[h]]
            wholly = [h for h in placement.wholly_outside if rig.deform[h]]
            if rig.is_skeleton:
                lines.append(
                    f"{subject.rig_source}: {rig.n_handles} joints (weight columns): "
                    f"{rig.n_handles - len(rig.point_handles)} with segments to their children, "
                    f"{len(rig.point_handles)} points."
                )
            else:
                lines.append(
                    f"{subject.rig_source}: {len(rig.bones)} bones, {len(rig.point_handles)} point handles, "
                    f"{rig.n_handles} weight columns."
                )
            lines += [placement.sentence(h).capitalize() + ": its inside part is used." for h in partly]
            lines += [placement.sentence(h).capitalize() + ": it will be excluded (zero weights)." for h in wholly]
            if excluded:
                lines.append(f"Not deforming by choice ({len(excluded)}): {', '.join(excluded)}.")
            if not partly and not wholly:
                lines.append("Every deforming handle lies inside the shape.")
            deforming = int(rig.deform.sum()) - len(wholly)
            fine = deforming > 0 and not (args.strict and (partly or wholly))
            ok = ok and fine
            entry.update(
                handles_partly_outside=[rig.handle_names[h] for h in partly],
                handles_wholly_outside=[rig.handle_names[h] for h in wholly],
                handles_excluded=excluded,
                deforming_handles=deforming,
            )
        reports.append(entry)
    verdict = (
        "fieldrig can compute weights on this input."
        if ok
        else "fieldrig cannot compute weights: "
        + ("handles outside the shape (--strict)." if args.strict else "no handle can deform the shape.")
    )
    if args.json:
        data = {"mesh": args.mesh, "rig": args.rig, "ok": ok, "subjects": reports, "summary": lines + [verdict]}
        print(json.dumps(data, indent=2, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
    else:
        print("\n".join(lines + [verdict]))
    return EXIT_OK if ok else EXIT_FAILED


def cmd_view(args) -> int:
    """``fieldrig view``: open the app; returns when its windows are closed."""
    import os

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        from fieldrig.core.errors import InputError

        raise InputError(
            "view",
            "no display to open windows on (run it in a desktop session or under xvfb-run; "
            "'fieldrig render' draws images without one)",
        )
    from fieldrig.gui.app import run_app

    return run_app(args.mesh, args.rig, args.cage, args.project)


def cmd_render(args) -> int:
    """``fieldrig render``: one image, headless (polyscope's EGL backend; no Qt)."""
    from fieldrig import workflow
    from fieldrig.core.errors import InputError
    from fieldrig.draw.render import render_image, write_image
    from fieldrig.geometry.export import load_weights
    from fieldrig.geometry.pose import Pose

    bad_suffix = _suffix_error(args, args.output, IMAGE_SUFFIXES, "image")
    if bad_suffix is not None:
        return bad_suffix
    _check_outputs(args, [args.output])
    if args.animation is not None and args.pose is not None:
        return _usage_error(args, "--animation: give --pose or --animation, not both")
    if (args.time is not None or args.frame is not None) and args.animation is None:
        return _usage_error(args, "--time: --time and --frame belong to --animation")
    own_skin = (args.rig is None or same_file(args.rig, args.mesh)) and workflow.is_skinned_file(args.mesh)
    if args.animation is not None and not own_skin:
        raise InputError(args.mesh, "--animation needs a skinned glTF or FBX file (and no other --rig)")
    if own_skin:
        subject = workflow.asset_subjects(args.mesh)[0]
        rig = subject.rig
    else:
        import fieldrig
        from fieldrig.geometry.rig import load_rig

        rig = load_rig(args.rig) if args.rig else None
        subject = workflow.Subject(Path(args.mesh).name, fieldrig.load_mesh(args.mesh), rig, str(args.rig))
    mesh = subject.mesh
    pose = Pose.load(args.pose) if args.pose else None
    if pose is not None and rig is None:
        raise InputError("--rig", "a pose needs the rig it was made for")
    W = None
    if args.weights:
        W = load_weights(args.weights)
    elif subject.asset is not None and subject.asset.artist_weights is not None:
        W = workflow.source_weights(subject)
    elif rig is not None and (pose is not None or args.animation is not None or args.color != "none"):
        bar = workflow.ProgressBar(f"weights {subject.name}", not args.quiet)
        try:
            W = workflow.fit_subject(subject, args.preset, args.device, progress=bar).W
        finally:
            bar.close()
    if W is not None and rig is None:
        raise InputError("--rig", "weights need the rig they were computed for")
    if W is not None and W.shape != (len(mesh.V), rig.n_handles):
        raise InputError(
            args.weights or args.mesh,
            f"weights have shape {W.shape}; the mesh has {len(mesh.V)} vertices and the rig {rig.n_handles} columns",
        )
    if pose is not None:
        pose.local_arrays(rig)  # an unknown handle name fails here, with its name
    T = None
    if args.animation is not None:
        T = workflow.animation_transforms(subject.asset, args.animation, args.time, args.frame)
    colouring, handle = args.color, 0
    if colouring not in ("dominant", "none"):  # else a handle's name: that handle's weight
        if rig is None or colouring not in rig.handle_names:
            raise InputError("--color", f"expected dominant, none or a handle name, got {colouring!r}")
        colouring, handle = "weight", rig.handle_names.index(args.color)
    width, height = args.size
    image = render_image(
        mesh.V,
        mesh.F,
        rig,
        W,
        pose,
        method=args.method,
        colouring=colouring,
        handle=handle,
        skeleton=not args.no_skeleton,
        width=width,
        height=height,
        view=args.view,
        transforms=T,
    )
    with _committed(args, [args.output]):
        write_image(args.output, image)
    _say(args, f"{Path(args.mesh).name}: {width}×{height} image → {args.output}")
    return EXIT_OK


# ============================================================================ main
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it).

    SIGINT and SIGTERM stop a command (exit 130 and 143, one line on stderr) and leave its
    outputs as they were, until it starts committing them; a signal that arrives from
    then on waits for it to finish (its outputs are complete).
    """
    from fieldrig.core.interrupts import EXIT_CODES, StopSignals, Terminated

    words = sys.argv[1:] if argv is None else list(argv)
    command = next((w for w in words if not w.startswith("-")), None)  # for the message of a stop while parsing
    with StopSignals(ignore_after=argv is None) as signals:
        try:
            args = build_parser().parse_args(words)
            command, args.stop_signals = args.command, signals
            code = _run(args)
        except KeyboardInterrupt as exc:
            terminated = isinstance(exc, Terminated)
            print(
                f"fieldrig{' ' + command if command else ''}: {'terminated' if terminated else 'interrupted'}",
                file=sys.stderr,
            )
            return EXIT_CODES[signals.stopped_by] if signals.stopped_by else EXIT_INTERRUPTED
        if signals.held is not None:
            print(
                f"fieldrig {command}: {signals.held.name} arrived while the outputs were committed; they are complete",
                file=sys.stderr,
            )
    return code


def _run(args) -> int:
    try:
        return int(args.func(args))
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
