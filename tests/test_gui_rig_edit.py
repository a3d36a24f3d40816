"""Rig editing functions (pure, no Qt): each returns a new valid rig and never changes its input."""

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.rig import PaintedRegion, Rig
from fieldrig.gui.rig_edit import (
    add_bone,
    add_point_handle,
    delete_handle,
    joint_of_handle,
    move_joint,
    rename_handle,
    set_bone_parent,
)


@pytest.fixture
def chain() -> Rig:
    """Two bones in a chain along x and a point handle above: columns [tip, bone0, bone1]."""
    rig = add_bone(None, [0, 0, 0], [1, 0, 0])
    rig = add_bone(rig, 1, [2, 0, 0])
    return add_point_handle(rig, [0, 1, 0], name="tip")


def test_building_from_nothing_gives_libigl_column_order(chain):
    assert chain.handle_names == ["tip", "bone0", "bone1"]
    assert chain.bone_parents.tolist() == [-1, 0]  # connectivity: bone1 starts where bone0 ends
    assert chain.handle_parents().tolist() == [-1, -1, 1]
    np.testing.assert_allclose(chain.handle_segments()[2], [[1, 0, 0], [2, 0, 0]])


def test_edits_do_not_modify_their_input(chain):
    before = chain.copy()
    move_joint(chain, 0, [0, -1, 0])
    delete_handle(chain, 1)
    rename_handle(chain, 0, "other")
    np.testing.assert_array_equal(chain.joints, before.joints)
    assert chain.handle_names == before.handle_names


def test_bone_from_a_point_handle_joint_replaces_the_point_handle(chain):
    rig = add_bone(chain, 3, [0, 2, 0])  # joint 3 is the point handle "tip"
    assert len(rig.point_handles) == 0
    assert rig.n_handles == 3
    assert rig.bone_parents.tolist() == [-1, 0, -1]


def test_delete_bone_reparents_children_and_drops_orphan_joints(chain):
    rig = add_bone(chain, 2, [3, 0, 0])  # bone2: child of bone1
    rig = delete_handle(rig, 2)  # delete bone1 (column 2)
    assert rig.bone_names == ["bone0", "bone2"]
    assert rig.bone_parents.tolist() == [-1, 0]  # bone2 now hangs from bone0
    assert len(rig.joints) == 5  # joints 1 and 2 are still used
    leaf = delete_handle(chain, 2)  # deleting the leaf bone removes its end joint
    assert len(leaf.joints) == len(chain.joints) - 1
    assert delete_handle(add_point_handle(None, [0, 0, 0]), 0) is None


def test_painted_regions_follow_their_handle(chain):
    rig = Rig.from_arrays(
        chain.joints,
        chain.bones,
        chain.point_handles,
        chain.bone_parents,
        chain.joint_names,
        chain.bone_names,
        [PaintedRegion(2, np.array([4, 5]))],
    )
    rig = add_point_handle(rig, [5, 5, 5])  # a new point handle shifts bone columns by one
    assert rig.painted[0].handle == 3 and rig.handle_names[3] == "bone1"
    rig = delete_handle(rig, 3)
    assert rig.painted == []


def test_invalid_edits_raise_input_errors(chain):
    with pytest.raises(InputError, match="cycle"):
        set_bone_parent(chain, 0, 1)
    with pytest.raises(InputError, match="own parent"):
        set_bone_parent(chain, 0, 0)
    with pytest.raises(InputError, match="zero length"):
        move_joint(chain, 1, [0, 0, 0])
    with pytest.raises(InputError, match="already called"):
        rename_handle(chain, 0, "bone1")
    with pytest.raises(InputError, match="no joint 9"):
        add_bone(chain, 9, [1, 1, 1])
    with pytest.raises(InputError, match="3 finite"):
        add_point_handle(chain, [np.nan, 0, 0])


def test_joint_of_handle(chain):
    assert joint_of_handle(chain, 0) == 3
    assert joint_of_handle(chain, 2) == 2
