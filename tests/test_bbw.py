"""libigl BBW reference: constraints on a small closed mesh, clear failures, agreement on arm."""

import subprocess
import sys

import numpy as np
import pytest
import trimesh

from fieldrig.geometry.bbw import BBWError, bbw_weights
from fieldrig.geometry.rig import PaintedRegion, Rig


@pytest.fixture(scope="module")
def capsule():
    """A capsule along z (length 3, radius 0.5) with two bones along its axis."""
    mesh = trimesh.creation.capsule(height=2.0, radius=0.5, count=[12, 12])
    rig = Rig.from_arrays(np.array([[0, 0, -1.0], [0, 0, 0], [0, 0, 1.0]]), bones=[[0, 1], [1, 2]])
    return np.asarray(mesh.vertices), np.asarray(mesh.faces), rig


@pytest.fixture(scope="module")
def capsule_weights(capsule):
    V, F, rig = capsule
    return bbw_weights(V, F, rig, samples_per_bone=6, return_info=True)


def test_partition_of_unity_bounds_and_locality(capsule, capsule_weights):
    V, _, _ = capsule
    W, info = capsule_weights
    assert W.shape == (len(V), 2)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-12)
    assert W.min() >= 0.0 and W.max() <= 1.0
    assert info["n_tets"] > 0 and info["tetgen_s"] >= 0 and info["bbw_s"] >= 0
    # each bone dominates its own end cap, the blend is even at the middle joint
    assert W[V[:, 2] < -1.2, 0].min() > 0.95
    assert W[V[:, 2] > 1.2, 1].min() > 0.95
    middle = np.abs(V[:, 2]) < 0.05
    np.testing.assert_allclose(W[middle, 0], 0.5, atol=0.1)
    # weight of bone 1 grows along the axis
    order = np.argsort(V[:, 2])
    assert np.corrcoef(V[order, 2], W[order, 1])[0, 1] > 0.9


def test_point_handles_and_painted_regions(capsule):
    V, F, _ = capsule
    painted = np.flatnonzero(V[:, 2] > 1.4)
    rig = Rig.from_arrays(
        np.array([[0, 0, -0.8], [0, 0, 0.8]]), point_handles=[0, 1], painted=[PaintedRegion(0, painted)]
    )
    W = bbw_weights(V, F, rig, samples_per_bone=0)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(W[painted], [[1.0, 0.0]] * len(painted), atol=1e-9)
    assert W[V[:, 2] < -1.0, 0].min() > 0.9


def test_duplicate_vertices_are_welded_and_share_weights(capsule, capsule_weights):
    V, F, rig = capsule
    # split the mesh along a seam: vertex 0's faces use a copy of it
    V2 = np.vstack([V, V[:1]])
    F2 = F.copy()
    F2[F2 == 0] = len(V)
    F2[np.flatnonzero((F == 0).any(axis=1))[0]] = F[np.flatnonzero((F == 0).any(axis=1))[0]]
    W2 = bbw_weights(V2, F2, rig, samples_per_bone=6)
    np.testing.assert_allclose(W2[len(V)], W2[0])
    np.testing.assert_allclose(W2[: len(V)], capsule_weights[0], atol=1e-9)


def test_open_mesh_is_refused_with_the_reason(capsule):
    V, F, rig = capsule
    with pytest.raises(BBWError, match="capsule.obj: TetGen cannot mesh this surface: the surface is not closed"):
        bbw_weights(V, F[1:], rig, source="capsule.obj")
    with pytest.raises(BBWError, match="point cloud"):
        bbw_weights(V, None, rig)


def test_handle_outside_is_refused(capsule):
    V, F, _ = capsule
    rig = Rig.from_arrays(np.array([[0, 0, 0.0], [0, 0, 4.0]]), bones=[[0, 1]])
    with pytest.raises(BBWError, match="inside the surface.*bone0"):
        bbw_weights(V, F, rig)


def test_child_process_reports_tetgen_failure_without_crashing_us(tmp_path, capsule):
    """The worker itself (bypassing the pre-checks) on an open surface fails cleanly."""
    V, F, rig = capsule
    job = tmp_path / "job.npz"
    np.savez(
        job,
        V=V,
        F=F[1:],
        C=rig.joints,
        P=rig.point_handles,
        BE=rig.bones,
        flags=np.array("pq1.414YQ"),
        samples=np.array(4),
        max_iter=np.array(8),
        painted_b=np.zeros(0, int),
        painted_h=np.zeros(0, int),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "fieldrig.geometry.bbw", str(job), str(tmp_path / "out.npz")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "TetGen failed" in proc.stderr
    assert not (tmp_path / "out.npz").exists()


def test_timeout_is_a_bbw_error(capsule):
    V, F, rig = capsule
    with pytest.raises(BBWError, match="did not finish within"):
        bbw_weights(V, F, rig, timeout_s=0.05)


def test_arm_matches_libigl_reference_weights(shared_data):
    from fieldrig.geometry.export import read_dmat
    from fieldrig.geometry.mesh_io import load_mesh

    mesh = load_mesh(shared_data / "arm.obj")
    W = bbw_weights(mesh.V, mesh.F, shared_data / "arm.tgf")
    reference = read_dmat(shared_data / "arm-weights.dmat")
    difference = np.abs(W - reference)
    assert difference.mean() < 0.01  # RECIPES: ~0.006 (TetGen meshes differ slightly)
    assert np.percentile(difference.max(axis=1), 95) < 0.1


def test_a_skeleton_handle_of_several_segments_sums_its_libigl_columns(capsule):
    """A joint with two children is one handle of two segments: libigl solves it as two bones
    and the handle's column is their sum; handles that do not deform keep zero columns."""
    V, F, _ = capsule
    positions = np.array([[0, 0, 0.0], [0, 0, -1.0], [0, 0, 0.6], [0, 0, 1.2]])
    skeleton = Rig.from_skeleton(positions, [-1, 0, 0, 2], ["centre", "low", "high", "top"])
    assert skeleton.bone_handles.tolist() == [0, 0, 2]  # centre: two segments; high: one
    with pytest.raises(BBWError, match="cannot hold a point handle on another handle's segment \\('low' on 'centre'"):
        bbw_weights(V, F, skeleton)  # the leaves are points at the ends of the others' segments
    W = bbw_weights(V, F, skeleton.with_deform([True, False, True, False]), samples_per_bone=6)
    bones = Rig.from_arrays(positions, bones=[[0, 1], [0, 2], [2, 3]])
    W_bones = bbw_weights(V, F, bones, samples_per_bone=6)
    np.testing.assert_allclose(W[:, 0], W_bones[:, 0] + W_bones[:, 1], atol=1e-12)
    np.testing.assert_allclose(W[:, 2], W_bones[:, 2], atol=1e-12)
    assert np.all(W[:, [1, 3]] == 0)
