"""Headless rendering for pipelines and thumbnails: a mesh, its skeleton, its weights and a
pose, drawn by polyscope through EGL (no window, no display).

    fieldrig render arm.obj --rig arm.tgf --weights arm.npy --pose wave.json -o arm.png

The picture is drawn like the app draws it (:mod:`fieldrig.draw.scene`): the mesh posed by
linear blend (or dual quaternion) skinning — by a pose, or by a skinned file's animation
clip — coloured by its dominant handle or by one handle's weight, with the posed skeleton
on top. Images are written by Pillow: nothing here needs Qt.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.core.vocabulary import COLOURINGS, IMAGE_SUFFIXES, RENDER_VIEWS, SKINNING_METHODS

PathLike = Union[str, os.PathLike]
#: Camera direction (towards the camera, y up) of each of :data:`~fieldrig.core.vocabulary.RENDER_VIEWS`.
VIEW_DIRECTIONS = {
    "three-quarter": (0.75, 0.45, 1.0),
    "front": (0.0, 0.0, 1.0),
    "side": (1.0, 0.0, 0.0),
    "top": (0.0, 1.0, 0.02),
}


def init_headless(backend: str = "openGL3_egl") -> None:
    """Start polyscope without a window (EGL), unless it already runs (then reuse it)."""
    import polyscope as ps

    if ps.is_initialized():
        return
    ps.set_use_prefs_file(False)
    ps.set_allow_headless_backends(True)
    ps.set_program_name("fieldrig render")
    ps.init(backend)


def render_image(
    V: np.ndarray,
    F: Optional[np.ndarray],
    rig=None,
    W: Optional[np.ndarray] = None,
    pose=None,
    method: str = "lbs",
    colouring: str = "dominant",
    handle: int = 0,
    skeleton: bool = True,
    width: int = 1024,
    height: int = 768,
    view: str = "three-quarter",
    background=(1.0, 1.0, 1.0),
    transforms: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Draw one picture.

    Parameters
    ----------
    V : (n, 3) float
    F : (m, 3) int or None
        None for a point cloud.
    rig : Rig, optional
    W : (n, H) float, optional
        Weights; needed to pose the mesh and to colour it.
    pose : Pose, optional
    method : {"lbs", "dqs"}
    colouring : {"dominant", "weight", "none"}
    handle : int
        The handle ``colouring="weight"`` shows.
    skeleton : bool
        Draw the (posed) bones and joints.
    width, height : int
        Image size in pixels.
    view : {"three-quarter", "front", "side", "top"}
        Camera direction (looking at the posed mesh's bounding box, y up).
    background : (3,) float
    transforms : (H, 4, 4) float, optional
        Per-column skinning transforms to pose with instead of ``pose`` (an animation
        clip's, :func:`fieldrig.workflow.animation_transforms`).

    Returns
    -------
    (height, width, 4) uint8
        RGBA.
    """
    import polyscope as ps

    from fieldrig.draw import scene
    from fieldrig.geometry.deform import dual_quaternion_skinning, linear_blend_skinning
    from fieldrig.geometry.pose import pose_transforms

    if view not in RENDER_VIEWS:
        raise InputError("view", f"expected one of {', '.join(RENDER_VIEWS)}, got {view!r}")
    if method not in SKINNING_METHODS:
        raise InputError("method", f"expected one of {', '.join(SKINNING_METHODS)}, got {method!r}")
    if colouring not in COLOURINGS:
        raise InputError("colouring", f"expected one of {', '.join(COLOURINGS)}, got {colouring!r}")
    if width < 16 or height < 16:
        raise InputError("size", f"image must be at least 16×16 pixels, got {width}×{height}")
    if W is not None and (rig is None or W.shape != (len(V), rig.n_handles)):
        raise InputError(
            "weights", f"weights have shape {W.shape}; expected ({len(V)}, {'H' if rig is None else rig.n_handles})"
        )
    if rig is not None and not 0 <= handle < rig.n_handles:
        raise InputError("handle", f"no handle {handle} (the rig has {rig.n_handles})")
    init_headless()
    ps.remove_all_structures()
    ps.set_window_size(int(width), int(height))
    ps.set_background_color(background)
    ps.set_ground_plane_mode("shadow_only")
    if transforms is not None and (rig is None or np.shape(transforms) != (rig.n_handles, 4, 4)):
        raise InputError("transforms", f"expected ({'H' if rig is None else rig.n_handles}, 4, 4) transforms")
    T = transforms if transforms is not None else pose_transforms(rig, pose) if rig is not None else None
    X = V
    if W is not None and (pose is not None or transforms is not None):
        X = np.asarray((dual_quaternion_skinning if method == "dqs" else linear_blend_skinning)(V, W, T))
    scene.register_mesh(X, F)
    if rig is not None and skeleton and F is not None:
        ps.set_transparency_mode("simple")
        scene.mesh_structure().set_transparency(0.7)  # the skeleton sits inside the mesh
    if W is not None and colouring != "none":
        scene.show_weights(W, colouring, handle, X)
    if rig is not None and skeleton:
        scene.show_skeleton(rig, scene.posed_joints(rig, T if W is not None else None))
    lo, hi = X.min(axis=0), X.max(axis=0)
    center, radius = 0.5 * (lo + hi), 0.5 * float(np.linalg.norm(hi - lo)) or 1.0
    direction = np.asarray(VIEW_DIRECTIONS[view], dtype=np.float64)
    fov = np.radians(ps.get_vertical_fov_degrees())
    distance = 1.1 * radius / np.tan(0.5 * fov) * max(1.0, height / width)
    ps.look_at(center + distance * direction / np.linalg.norm(direction), center)
    ps.frame_tick()
    image = np.ascontiguousarray(ps.screenshot_to_buffer(transparent_bg=False, include_UI=False))
    ps.remove_all_structures()
    return image


def write_image(path: PathLike, image: np.ndarray) -> None:
    """Write an image as PNG or JPEG (by the file's extension), atomically.

    Parameters
    ----------
    path : str or PathLike
        Ends in ``.png``, ``.jpg`` or ``.jpeg``.
    image : (h, w, 3) or (h, w, 4) uint8
        RGB or RGBA; a JPEG drops the alpha channel.
    """
    from PIL import Image

    from fieldrig.core.atomic import atomic_path

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InputError(str(path), f"expected a {', '.join(IMAGE_SUFFIXES)} output")
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(str(path), f"expected an (h, w, 3|4) uint8 image, got {image.dtype} {image.shape}")
    picture = Image.fromarray(image, "RGBA" if image.shape[2] == 4 else "RGB")
    if suffix != ".png":
        picture = picture.convert("RGB")
    with atomic_path(path) as tmp:
        picture.save(tmp, format="PNG" if suffix == ".png" else "JPEG")
