"""Pose preview cost per frame in the app: forward kinematics + skinning + polyscope vertex upload.

    python bench/pose_preview.py [--vertices 100000] [--bones 20] [--frames 120] [--backend openGL3_egl]

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
"""

import argparse
import os
import time

import numpy as np


def tube(n_vertices: int, length: float, radius: float):
    """A closed-ended tube along x: (V (n,3), F (m,3)) with about n_vertices vertices."""
    around = 64
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vertices", type=int, default=100_000)
    parser.add_argument("--bones", type=int, default=20)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument(
        "--backend", default="openGL3_egl", help="polyscope backend (openGL3_egl: real GL buffers, headless)"
    )
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import QCoreApplication

    from fieldrig.geometry.mesh_io import MeshData
    from fieldrig.geometry.pose import Pose, axis_angle_matrix
    from fieldrig.geometry.rig import Rig
    from fieldrig.gui.document import Document
    from fieldrig.gui.preview import PreviewSkinning
    from fieldrig.gui.viewer import Viewer
    from fieldrig.session import RigState, WeightSet

    qt_app = QCoreApplication.instance() or QCoreApplication([])  # Qt objects (signals) need an application
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


if __name__ == "__main__":
    main()
