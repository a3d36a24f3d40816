"""The ``view`` and ``render`` subcommands of the ``fieldrig`` command.

Registered by :mod:`fieldrig.cli` through ``register(subparsers)``. Nothing heavy is
imported here: Qt, polyscope and torch load when a command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fieldrig.core.vocabulary import IMAGE_SUFFIXES, SKINNING_METHODS, SKINNING_PRESET_NAMES

_RENDER_EPILOG = """\
examples:
  fieldrig render arm.obj --rig arm.tgf --weights arm.npy -o arm.png
  fieldrig render arm.obj --rig arm.tgf --weights arm.npy --pose wave.json -o waved.png --method dqs
  fieldrig render character.glb --pose walk.json -o thumb.png --size 256 256     # rig + weights from the glTF skin
  fieldrig render character.glb --animation Run --time 0.4 -o run.png            # the file's own clip
  fieldrig render arm.obj --rig arm.tgf --pose wave.json -o waved.png --preset fast  # computes the weights first

Draws through polyscope's EGL backend: no window and no display are needed.
"""

_VIEW_EPILOG = """\
examples:
  fieldrig view
  fieldrig view arm.obj --rig arm.tgf
  fieldrig view spot.obj --cage spot-cage.obj
  fieldrig view --project arm.fieldrig

Two windows: the 3D view (polyscope) and the panel (Qt). Files can also be dropped on
either window.
"""


def register(subparsers) -> None:
    """Add ``view`` and ``render`` to the ``fieldrig`` command's subparsers."""
    formatter = argparse.RawDescriptionHelpFormatter
    view = subparsers.add_parser(
        "view",
        help="open the rigging app (3D view + panel)",
        formatter_class=formatter,
        description="Open the desktop rigging app.",
        epilog=_VIEW_EPILOG,
    )
    add_view_arguments(view)
    view.set_defaults(func=cmd_view)

    render = subparsers.add_parser(
        "render",
        help="draw a mesh, its weights and a pose to an image, headless",
        formatter_class=formatter,
        epilog=_RENDER_EPILOG,
        description="Render MESH (posed, coloured by its weights, with its skeleton) to a PNG without a window.",
    )
    render.add_argument(
        "mesh", metavar="MESH", help="mesh or point cloud (a rigged GLB/GLTF brings its rig and weights)"
    )
    render.add_argument("--rig", metavar="RIG", help="skeleton: TGF, JSON or a rigged GLB/GLTF")
    render.add_argument(
        "--weights", metavar="W", help="weights (NPY, CSV, DMAT); computed when a pose needs them and none are given"
    )
    render.add_argument("--pose", metavar="POSE", help="pose JSON (fieldrig pose format)")
    render.add_argument("--animation", metavar="NAME", help="a skinned file's animation clip (instead of --pose)")
    render.add_argument("--time", type=float, metavar="T", help="--animation: seconds from the clip's start")
    render.add_argument("--frame", type=int, metavar="N", help="--animation: frame N at 30 frames per second")
    render.add_argument("-o", "--output", required=True, metavar="OUT", help="image to write (.png, .jpg)")
    render.add_argument("--method", choices=SKINNING_METHODS, default="lbs", help="skinning method for --pose")
    render.add_argument(
        "--color",
        default="dominant",
        metavar="HOW",
        help="'dominant' (each vertex in its main handle's colour), 'none', or a handle name "
        "(that handle's weight, viridis)",
    )
    render.add_argument("--no-skeleton", action="store_true", help="do not draw bones and joints")
    render.add_argument(
        "--view",
        choices=("three-quarter", "front", "side", "top"),
        default="three-quarter",
        help="camera direction (y up)",
    )
    render.add_argument(
        "--size", nargs=2, type=int, default=(1024, 768), metavar=("W", "H"), help="image size in pixels"
    )
    render.add_argument(
        "--preset",
        choices=SKINNING_PRESET_NAMES,
        default="fast",
        help="preset used when the weights have to be computed",
    )
    render.add_argument("--device", default="auto", help="torch device when the weights have to be computed")
    render.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    render.set_defaults(func=cmd_render)


def add_view_arguments(parser) -> None:
    """The ``view`` command's arguments (also used by ``python -m fieldrig.gui.app``)."""
    parser.add_argument("mesh", metavar="MESH", nargs="?", help="mesh, soup or point cloud to open")
    parser.add_argument("--rig", metavar="RIG", help="skeleton: TGF, JSON, or a rigged GLB/GLTF")
    parser.add_argument("--cage", metavar="CAGE", help="cage for cage deformation (OBJ, OFF, PLY, JSON)")
    parser.add_argument("--project", metavar="FILE", help="a .fieldrig project to open")


def cmd_view(args) -> int:
    """``fieldrig view``: open the app; returns when its windows are closed."""
    import os
    import sys

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
    """``fieldrig render``: one image, headless."""
    import sys

    from fieldrig import workflow
    from fieldrig.core.errors import InputError
    from fieldrig.draw.render import render_image, write_image
    from fieldrig.geometry.export import load_weights
    from fieldrig.geometry.pose import Pose

    if Path(args.output).suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(args.output, "expected a .png, .jpg or .jpeg output")
    if args.animation is not None and args.pose is not None:
        raise InputError("--animation", "give --pose or --animation, not both")
    if (args.time is not None or args.frame is not None) and args.animation is None:
        raise InputError("--time", "--time and --frame belong to --animation")
    own_skin = (args.rig is None or Path(args.rig).resolve() == Path(args.mesh).resolve()) and workflow.is_skinned_file(
        args.mesh
    )
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
    if colouring not in ("dominant", "none"):
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
    write_image(args.output, image)
    if not args.quiet:
        print(f"{Path(args.mesh).name}: {width}×{height} image → {args.output}", file=sys.stderr)
    return 0
