"""Handles partly or wholly outside the shape, handles that do not deform, joints at their
parent's position: the fit uses what is inside, excludes the rest with a warning (or
refuses with ``strict``), and keeps the rig's columns."""

import numpy as np
import pytest
import trimesh

import fieldrig
from fieldrig.geometry.handle_placement import place_handles
from fieldrig.geometry.rig import Rig


def capsule(radius=0.3, height=2.0):
    """A closed capsule along z, z in [-(height / 2 + radius), height / 2 + radius]."""
    mesh = trimesh.creation.capsule(height=height, radius=radius, count=[10, 10])
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


@pytest.fixture(scope="module")
def shape():
    return capsule()


def poking_rig():
    """A bone inside, a bone leaving through the top (z = 1.3), a point handle far outside."""
    return Rig.from_arrays(
        np.array([[0, 0, -1.0], [0, 0, 0], [0, 0, 3.0], [0, 2.0, 0]]),
        bones=[[0, 1], [1, 2]],
        point_handles=[3],
        joint_names=["a", "b", "c", "ik"],
        bone_names=["low", "high"],
    )


@pytest.mark.parametrize("scale, shift", [(1.0, 0.0), (1e-9, 0.0), (1e20, 0.0), (1.0, 100.0), (0.01, 7.0)])
def test_placement_clips_segments_to_the_shape_in_any_units(shape, scale, shift):
    V, F = shape
    rig = poking_rig()
    moved = Rig.from_arrays(
        (rig.joints + shift) * scale, rig.bones, rig.point_handles, None, rig.joint_names, rig.bone_names
    )
    placement = place_handles((V + shift) * scale, F, moved)
    band = 0.01 * np.linalg.norm(np.ptp(V, axis=0))  # the inside tolerance, relative to the shape
    np.testing.assert_allclose(placement.inside_fraction, [0.0, 1.0, (1.3 + band) / 3], atol=2e-3)
    assert placement.wholly_outside.tolist() == [0] and placement.partly_outside.tolist() == [2]
    top = placement.ends[placement.owner == 2][0] / scale - shift
    np.testing.assert_allclose(top, [0, 0, 1.3 + band], atol=2e-3)
    assert "'ik' lies outside the shape (wholly" in placement.sentence(0)
    assert "'high' lies partly outside the shape (56% of it" in placement.sentence(2)


@pytest.fixture(scope="module")
def poking_fit(shape):
    V, F = shape
    return fieldrig.fit_skinning_field(V, F, poking_rig(), preset="fast", seed=0)


def test_a_partly_outside_handle_uses_its_inside_part_and_an_outside_one_is_excluded(shape, poking_fit):
    V, F = shape
    field = poking_fit
    W = field.evaluate(V)
    assert W.shape == (len(V), 3) and field.handle_names == ["ik", "low", "high"]
    assert np.all(W[:, 0] == 0)  # the point handle outside keeps a zero column
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-9)
    assert W.min() >= 0
    on_inside_part = np.c_[np.zeros((5, 2)), np.linspace(0.2, 1.2, 5)]
    np.testing.assert_allclose(field.evaluate(on_inside_part)[:, 2], 1.0, atol=1e-9)  # Lagrange on what is inside
    assert any("'high' lies partly outside" in w and "inside part is used" in w for w in field.warnings)
    assert any("'ik' lies outside the shape" in w and "excluded" in w for w in field.warnings)


def test_strict_refuses_handles_outside(shape):
    V, F = shape
    with pytest.raises(fieldrig.InputError, match="rig: handle 'ik' lies outside.*; handle 'high' lies partly"):
        fieldrig.fit_skinning_field(V, F, poking_rig(), preset="fast", strict=True)


def test_handles_that_do_not_deform_keep_zero_columns(shape):
    V, F = shape
    rig = Rig.from_arrays(np.array([[0, 0, -1.0], [0, 0, 0], [0, 0, 1.0]]), bones=[[0, 1], [1, 2]])
    W = fieldrig.skinning_weights(V, F, rig.with_deform([True, False]), preset="fast")
    assert np.all(W[:, 1] == 0) and np.allclose(W[:, 0], 1.0)  # one deforming handle: all its
    with pytest.raises(fieldrig.InputError, match="no handle can deform the shape.*not deforming by choice: bone0"):
        fieldrig.skinning_weights(V, F, rig.with_deform([False, False]), preset="fast")


def test_a_skeleton_with_a_joint_at_its_parents_position(shape):
    """A twist joint where its parent is, and an IK target outside: a fit, not an error."""
    V, F = shape
    positions = np.array([[0, 0, -1.0], [0, 0, 0], [0, 0, 0], [0, 0, 1.0], [0, 3.0, 0]])
    rig = Rig.from_skeleton(positions, [-1, 0, 1, 1, 0], ["root", "mid", "twist", "tip", "ik"])
    field = fieldrig.fit_skinning_field(V, F, rig, preset="fast", seed=0)
    W = field.evaluate(V)
    assert W.shape == (len(V), 5) and np.all(W[:, 4] == 0)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-9)
    on_root, on_mid = field.evaluate(np.array([[0, 0, -0.5], [0, 0, 0.5]]))
    assert on_root[0] == pytest.approx(1.0) and on_mid[1] == pytest.approx(1.0)  # each joint on its segment
    assert W[V[:, 2] < -1.0, 0].min() > 0.5 and W[V[:, 2] > 1.0, 3].min() > 0.5  # and around its end


@pytest.mark.parametrize("scale", [1e-9, 1e20])
def test_checks_readers_and_writers_do_not_care_about_units(shape, tmp_path, scale, capsys):
    from fieldrig.cli import main
    from fieldrig.geometry.export import save_mesh
    from fieldrig.geometry.gltf import load_gltf_rig, write_skinned_gltf
    from fieldrig.geometry.rig import save_rig

    V, F = shape
    rig = Rig.from_arrays(np.array([[0, 0, -1.0], [0, 0, 0], [0, 0, 1.0]]) * scale, bones=[[0, 1], [1, 2]])
    save_mesh(tmp_path / "m.obj", V * scale, F)
    save_rig(rig, tmp_path / "r.json")
    assert main(["check", str(tmp_path / "m.obj"), "--rig", str(tmp_path / "r.json"), "--strict"]) == 0
    assert "Every deforming handle lies inside the shape" in capsys.readouterr().out
    W = np.tile([0.5, 0.5], (len(V), 1))
    write_skinned_gltf(tmp_path / "m.glb", V * scale, F, rig, W)
    back = load_gltf_rig(tmp_path / "m.glb")  # the stored rig still matches its float32 joints
    assert not back.is_skeleton and back.handle_names == rig.handle_names
    np.testing.assert_allclose(back.handle_segments(), rig.handle_segments(), rtol=1e-6)
