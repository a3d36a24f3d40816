"""Pose preview cost per frame in the app: forward kinematics + skinning + polyscope vertex upload,
and clip playback frames per second.

    python bench/pose_preview.py [--vertices 100000] [--bones 20] [--frames 120] [--backend openGL3_egl]
                                 [--character-vertices 10000] [--joints 60] [--part pose|playback|all]

Builds a tube of ``--vertices`` vertices around a chain of ``--bones`` bones and gives it
weights two ways: dense (every vertex influenced by every bone, as fieldrig's fields give:
their weights are positive everywhere) and compact (only the bones within two bone
lengths, as pruned game-engine weights are). It drives the real app classes
(:class:`~fieldrig.gui.document.Document`, :class:`~fieldrig.gui.viewer.Viewer`): every
frame changes the pose through the document, as a slider or gizmo drag does, and times
``Viewer.refresh()`` — pose transforms, LBS (or DQS), the upload into polyscope's vertex
buffer. Drawing the frame is the GPU's job and is not included. Target for LBS: ≤ 16 ms
per frame (wall clock, median). The machine may be shared: the load average is printed,
and the CPU time the process spent per frame beside the wall time.

The playback figure builds a synthetic skinned character (``--character-vertices`` vertices
in tubes round the bones of a ``--joints``-joint skeleton: spine, neck, head, arms with five
three-joint fingers, legs) with a 3.3 s clip that swings every joint, as a
:class:`~fieldrig.geometry.skinned_asset.SkinnedAsset` the app opens like a file's, and plays
it through the app's own :class:`~fieldrig.gui.timeline.Playback` frame after frame: each
frame is ``Playback.advance()`` + ``Viewer.refresh()`` — the clip's skinning matrices (first
loop: evaluated; later loops: cached), LBS or DQS with the weights in use, the vertex upload
and the skeleton's joints. Frames per second of that compute are printed beside the 30 fps
target, for game-style weights (4 influences) and dense ones (fieldrig's fields are
positive everywhere). A last run plays 3 s in real time off a 16 ms timer and counts the
frames the playback skipped.
"""

import argparse
import os
import time

import numpy as np


def tube(n_vertices: int, length: float, radius: float, around: int = 64):
    """A closed-ended tube along x: (V (n,3), F (m,3)) with about n_vertices vertices,
    ``around`` of them round each ring."""
    rings = max(2, n_vertices // around)
    x = np.linspace(0.0, length, rings)
    angle = np.linspace(0.0, 2 * np.pi, around, endpoint=False)
    X, A = np.meshgrid(x, angle, indexing="ij")
    V = np.stack([X.ravel(), radius * np.cos(A).ravel(), radius * np.sin(A).ravel()], axis=1)
    i, j = np.meshgrid(np.arange(rings - 1), np.arange(around), indexing="ij")
    a, b = i * around + j, i * around + (j + 1) % around
    c, d = a + around, b + around
    F = np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])
    return V, F


def chain_weights(V: np.ndarray, joints: np.ndarray, reach: float, dense: bool) -> np.ndarray:
    """Smooth weights of a bone chain: (1 - (d/reach)^2)^3 of the distance to each bone, normalised."""
    a, b = joints[:-1], joints[1:]
    ab = b - a
    t = np.clip(((V[:, None, :] - a[None]) * ab[None]).sum(-1) / (ab * ab).sum(-1)[None], 0.0, 1.0)
    d = np.linalg.norm(V[:, None, :] - (a[None] + t[..., None] * ab[None]), axis=-1)
    W = np.clip(1.0 - (d / reach) ** 2, 0.0, None) ** 3 if not dense else np.exp(-((d / reach) ** 2)) + 1e-3
    return W / W.sum(axis=1, keepdims=True)


def skeleton_joints(n_joints: int):
    """A standing figure's joints: (names, parents (J,), positions (J, 3)), exactly ``n_joints``
    (spine, neck, head, two arms with five three-joint fingers, two legs; extra spine joints
    or fewer fingers make up the count)."""
    names, parents, positions = [], [], []

    def add(name, parent, position):
        names.append(name)
        parents.append(parent)
        positions.append(np.asarray(position, dtype=float))
        return len(names) - 1

    limbs = 2 * (4 + 4)  # clavicle, upper arm, forearm, hand; thigh, shin, foot, toe — each side
    fingers = max(0, min(5, (n_joints - 3 - limbs) // 6))  # 3 joints a finger, two hands
    spine = n_joints - limbs - 6 * fingers - 2  # the rest: spine joints, then neck and head
    if spine < 1:
        raise SystemExit(f"--joints {n_joints}: too few for a figure (at least {limbs + 3})")
    chest = add("hips", -1, (0.0, 1.0, 0.0))
    for k in range(1, spine):
        chest = add(f"spine{k}", chest, (0.0, 1.0 + 0.5 * k / max(1, spine - 1), 0.0))
    neck = add("neck", chest, (0.0, 1.58, 0.0))
    add("head", neck, (0.0, 1.72, 0.0))
    for side, sx in (("L", 1.0), ("R", -1.0)):
        j = add(f"clavicle_{side}", chest, (sx * 0.08, 1.48, 0.0))
        j = add(f"upperarm_{side}", j, (sx * 0.2, 1.46, 0.0))
        j = add(f"forearm_{side}", j, (sx * 0.47, 1.46, 0.0))
        hand = add(f"hand_{side}", j, (sx * 0.72, 1.46, 0.0))
        for f in range(fingers):
            z = 0.04 * (f - 2)
            j = hand
            for k in range(3):
                j = add(f"finger{f}.{k}_{side}", j, (sx * (0.8 + 0.035 * k), 1.46, z))
        j = add(f"thigh_{side}", 0, (sx * 0.1, 0.95, 0.0))
        j = add(f"shin_{side}", j, (sx * 0.11, 0.52, 0.0))
        j = add(f"foot_{side}", j, (sx * 0.12, 0.08, 0.0))
        add(f"toe_{side}", j, (sx * 0.12, 0.02, 0.12))
    return names, np.array(parents), np.array(positions)


def synthetic_character(n_vertices: int, n_joints: int, seconds: float):
    """A skinned character: tubes round the bones, weights to the nearest bones, one clip.

    Returns
    -------
    asset : SkinnedAsset
        Its part's weights are the 4-influence table.
    V : (n, 3) float
    F : (m, 3) int
    tables : dict of str → (n, J) float
        ``"4 influences"`` (at most 4 joints a vertex, as game engines keep) and ``"dense"``
        (every joint that has a bone, as fieldrig's fields give: positive everywhere).
    """
    from fieldrig.geometry.rotations import axis_angle_matrix
    from fieldrig.geometry.skinned_asset import Clip, Skeleton, SkinnedAsset, SkinnedPart

    names, parents, P = skeleton_joints(n_joints)
    bones = [(int(parents[j]), j) for j in range(len(names)) if parents[j] >= 0]
    around = 16
    rings = max(2, -(-n_vertices // (around * len(bones))))  # at least n_vertices in all
    Vs, Fs = [], []
    for a, b in bones:
        length = np.linalg.norm(P[b] - P[a])
        tube_V, tube_F = tube(around * rings, 1.0, min(0.06, 0.25 * length), around)
        axis = (P[b] - P[a]) / length
        helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        u = np.cross(axis, helper)
        u /= np.linalg.norm(u)
        w = np.cross(axis, u)
        Vs.append(P[a] + np.outer(tube_V[:, 0] * length, axis) + np.outer(tube_V[:, 1], u) + np.outer(tube_V[:, 2], w))
        Fs.append(tube_F + sum(len(v) for v in Vs[:-1]))
    V, F = np.concatenate(Vs), np.concatenate(Fs)
    segments = np.array([(P[a], P[b]) for a, b in bones])
    d = np.linalg.norm(V[:, None, :] - _closest(V, segments), axis=-1)  # (n, B)
    owner = np.array([a for a, _ in bones])  # a bone moves with its start joint
    dense = np.zeros((len(V), len(names)))
    np.add.at(dense.T, owner, (np.exp(-((d / 0.08) ** 2)) + 1e-3).T)
    keep = np.argsort(-dense, axis=1)[:, :4]
    compact = np.zeros_like(dense)
    np.put_along_axis(compact, keep, np.take_along_axis(dense, keep, axis=1), axis=1)
    tables = {name: W / W.sum(axis=1, keepdims=True) for name, W in (("4 influences", compact), ("dense", dense))}
    rng = np.random.default_rng(0)
    axes = rng.normal(size=(len(names), 3))
    phases = rng.uniform(0, 2 * np.pi, len(names))
    bind = np.tile(np.eye(4), (len(names), 1, 1))
    bind[:, :3, 3] = P
    offsets = P - np.where(parents[:, None] >= 0, P[np.maximum(parents, 0)], 0.0)

    class Swing(Clip):
        """Every joint swings about its own axis, 25° at most, out of phase with the others."""

        def joint_world(self, t):
            world = np.empty((len(names), 4, 4))
            for j in range(len(names)):  # parents come first
                local = np.eye(4)
                local[:3, :3] = axis_angle_matrix(axes[j], 25.0 * np.sin(2 * np.pi * t / self.duration + phases[j]))
                local[:3, 3] = offsets[j]
                world[j] = local if parents[j] < 0 else world[parents[j]] @ local
            return world

    skeleton = Skeleton(names, parents, np.linalg.inv(bind))
    part = SkinnedPart("body", V, F, None, tables["4 influences"])
    return SkinnedAsset("synthetic.glb", skeleton, [part], [Swing("swing", seconds)]), V, F, tables


def _closest(V, segments):
    """Closest points of every segment to every vertex, (n, B, 3)."""
    a, b = segments[:, 0], segments[:, 1]
    ab = b - a
    t = np.clip(((V[:, None, :] - a[None]) * ab[None]).sum(-1) / (ab * ab).sum(-1)[None], 0.0, 1.0)
    return a[None] + t[..., None] * ab[None]


def playback_figures(args, qt_app):
    """Frames per second of clip playback in the app (see the module docstring)."""
    from fieldrig.geometry.clip_frames import ClipFrames
    from fieldrig.geometry.mesh_io import MeshData
    from fieldrig.gui.document import Document
    from fieldrig.gui.preview import PreviewSkinning
    from fieldrig.gui.timeline import Playback
    from fieldrig.gui.viewer import Viewer
    from fieldrig.session import RigState, WeightSet
    from fieldrig.workflow import FRAME_RATE

    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

    doc = Document()
    viewer = Viewer(doc, backend=args.backend)
    clock = Clock()
    playback = Playback(doc, clock)
    target = 30.0
    print(
        f"clip playback: synthetic character, {args.joints} joints, "
        f"3.3 s clip at 30 fps; load average {os.getloadavg()[0]:.1f}; per frame: Playback.advance() + "
        f"Viewer.refresh() (clip transforms + skinning + vertex upload + skeleton), drawing excluded"
    )
    asset, V, F, tables = synthetic_character(args.character_vertices, args.joints, 3.3)
    rig = asset.rig()
    doc.set_mesh(MeshData(V, F, None, "synthetic.glb"), None, asset)
    fresh = ClipFrames(asset.clips[0], asset.skeleton, FRAME_RATE)
    start = time.perf_counter()
    for k in range(fresh.n_frames):
        fresh.transforms(k)
    evaluation_ms = 1e3 * (time.perf_counter() - start) / fresh.n_frames
    print(
        f"  the clip's skinning matrices: {evaluation_ms:.2f} ms a frame to evaluate, once per frame "
        f"({fresh.n_frames} frames); the loops below read them back"
    )
    for kind, W in tables.items():
        doc.set_rig_state(
            RigState(rig, weight_sets=(WeightSet("bench", W, "file", preview=PreviewSkinning(V, W)),)), "bench"
        )
        doc.set_mode("pose")
        viewer.refresh()
        label = f"{kind} ({(W > 0).sum(1).mean():.1f}/vertex)"
        for method in ("lbs", "dqs"):
            doc.set_setting("method", method)
            playback.choose_clip("swing")
            viewer.refresh()
            frames = doc.clip_frames()
            playback.play()
            times, cpu = [], []
            for _ in range(2 * (frames.n_frames - 1)):  # two loops of the clip
                clock.now += 1.0 / frames.frame_rate / doc.animation.speed
                start, start_cpu = time.perf_counter(), time.process_time()
                playback.advance()
                viewer.refresh()
                times.append(1e3 * (time.perf_counter() - start))
                cpu.append(1e3 * (time.process_time() - start_cpu))
            qt_app.processEvents()
            fps = 1e3 / np.median(times)
            verdict = "met" if fps >= target else f"MISSED by {target / fps:.1f}×"
            print(
                f"  {method.upper()}  {len(V):,} vertices, {label:<24} {fps:5.0f} frames/s  (median "
                f"{np.median(times):5.2f} ms, p95 {np.percentile(times, 95):5.2f}, CPU {np.median(cpu):5.2f})  "
                f"target ≥ {target:.0f} frames/s: {verdict}"
            )
        playback.pause()
    # A/B: both weight tables in the document, swapped while the clip plays
    W, other = tables["dense"], tables["4 influences"]
    sets = (WeightSet("A", W, "file", preview=PreviewSkinning(V, W)), WeightSet("B", other, "computed"))
    doc.set_rig_state(RigState(rig, weight_sets=sets, compare=("A", "B")), "bench")
    playback.play()
    swaps = []
    for _ in range(20):
        clock.now += 1.0 / 30
        playback.advance()
        start = time.perf_counter()
        doc.swap_compared()
        viewer.refresh()
        swaps.append(1e3 * (time.perf_counter() - start))
        qt_app.processEvents()
    print(
        f"  A/B swap during playback (DQS, dense ↔ 4 influences, the frame re-skinned): median "
        f"{np.median(swaps):.1f} ms, longest {max(swaps):.1f} ms"
    )
    # real time: a 16 ms timer, the real clock, 3 s of playback
    playback.clock = time.perf_counter
    playback.choose_clip("swing")
    playback.play()
    end = time.perf_counter() + 3.0
    while time.perf_counter() < end:
        playback.advance()
        viewer.refresh()
        time.sleep(0.016)
    print(
        f"  real time, DQS dense, 16 ms timer, 3 s: {playback.shown} frames shown, {playback.dropped} skipped "
        f"(of {int(3.0 * 30)} clip frames)"
    )
    viewer.close()


def pose_figures(args, qt_app):
    """ms per frame of posing a tube by hand (see the module docstring)."""

    from fieldrig.geometry.mesh_io import MeshData
    from fieldrig.geometry.pose import Pose, axis_angle_matrix
    from fieldrig.geometry.rig import Rig
    from fieldrig.gui.document import Document
    from fieldrig.gui.preview import PreviewSkinning
    from fieldrig.gui.viewer import Viewer
    from fieldrig.session import RigState, WeightSet

    length = 10.0
    V, F = tube(args.vertices, length, 0.4)
    joints = np.stack(
        [np.linspace(0, length, args.bones + 1), np.zeros(args.bones + 1), np.zeros(args.bones + 1)], axis=1
    )
    rig = Rig.from_arrays(joints, np.stack([np.arange(args.bones), np.arange(1, args.bones + 1)], axis=1))
    doc = Document()
    viewer = Viewer(doc, backend=args.backend)
    doc.set_mesh(MeshData(V, F, None, "tube"), None)
    print(
        f"{len(V):,} vertices, {len(F):,} faces, {args.bones} bones; polyscope {args.backend}; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; ms per frame for Viewer.refresh() "
        f"(pose transforms + skinning + vertex upload)"
    )
    for dense in (True, False):
        W = chain_weights(V, joints, reach=2.0 * length / args.bones, dense=dense)
        influences = (W > 0).sum(axis=1).mean()
        start = time.perf_counter()
        preview = PreviewSkinning(V, W)  # the app builds it in the worker thread, with the weights
        build_ms = 1e3 * (time.perf_counter() - start)
        doc.set_rig_state(RigState(rig, weight_sets=(WeightSet("bench", W, preview=preview),)), "bench")
        doc.set_mode("pose")
        viewer.refresh()
        for method in ("lbs", "dqs"):
            doc.set_setting("method", method)
            viewer.refresh()  # builds the skinning operator once (not per frame)
            times, cpu = [], []
            for frame in range(args.frames):
                pose = Pose()
                for b in range(args.bones):
                    pose.set(f"bone{b}", rotation=axis_angle_matrix([0, 0, 1], 4.0 * np.sin(0.1 * frame + 0.3 * b)))
                doc.set_pose(pose, "bend", merge_token=("bench",))
                start, start_cpu = time.perf_counter(), time.process_time()
                viewer.refresh()
                times.append(1e3 * (time.perf_counter() - start))
                cpu.append(1e3 * (time.process_time() - start_cpu))
            times = np.array(times)
            qt_app.processEvents()
            label = f"{'dense' if dense else 'compact'} weights ({influences:.1f} influences/vertex)"
            verdict = (
                ("  target ≤ 16 ms: " + ("met" if np.median(times) <= 16 else "MISSED")) if method == "lbs" else ""
            )
            print(
                f"  {method.upper()}  {label:<38} mean {times.mean():6.2f}  median {np.median(times):6.2f}  "
                f"p95 {np.percentile(times, 95):6.2f}  (CPU time median {np.median(cpu):6.2f}){verdict}"
            )
        print(f"       (skinning operator built once per weights, off the UI thread: {build_ms:.0f} ms)")
    viewer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vertices", type=int, default=100_000)
    parser.add_argument("--bones", type=int, default=20)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--character-vertices", type=int, default=10_000)
    parser.add_argument("--joints", type=int, default=60)
    parser.add_argument("--part", choices=("pose", "playback", "all"), default="all")
    parser.add_argument(
        "--backend", default="openGL3_egl", help="polyscope backend (openGL3_egl: real GL buffers, headless)"
    )
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import QCoreApplication

    qt_app = QCoreApplication.instance() or QCoreApplication([])  # Qt objects (signals) need an application
    if args.part in ("pose", "all"):
        pose_figures(args, qt_app)
    if args.part in ("playback", "all"):
        playback_figures(args, qt_app)


if __name__ == "__main__":
    main()
