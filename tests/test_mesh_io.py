"""load_mesh / validate_mesh: format round trips keep vertex order; bad input → InputError."""

import numpy as np
import pytest
import trimesh

from fieldrig.core.errors import InputError
from fieldrig.geometry.mesh_io import clean_mesh, load_mesh, validate_mesh


@pytest.fixture
def shuffled_box():
    """A closed box whose vertices are in a scrambled (non-canonical) order."""
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    perm = np.random.default_rng(3).permutation(len(box.vertices))
    inv = np.argsort(perm)
    return box.vertices[perm], inv[box.faces]


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".off", ".glb", ".gltf"])
def test_round_trip_keeps_vertex_order(tmp_path, shuffled_box, suffix):
    V, F = shuffled_box
    path = tmp_path / f"box{suffix}"
    trimesh.Trimesh(V, F, process=False).export(path)
    mesh = load_mesh(path)
    np.testing.assert_allclose(mesh.V, V, atol=1e-6)  # glTF stores float32
    np.testing.assert_array_equal(mesh.F, F)
    assert not mesh.is_point_cloud
    assert mesh.path == str(path)


def test_binary_ply_and_libigl_writers(tmp_path, shuffled_box):
    import igl

    V, F = shuffled_box
    trimesh.Trimesh(V, F, process=False).export(tmp_path / "b.ply", encoding="binary")
    igl.writeOBJ(str(tmp_path / "i.obj"), V, F)
    igl.writeOFF(str(tmp_path / "i.off"), V, F)
    for name in ("b.ply", "i.obj", "i.off"):
        mesh = load_mesh(tmp_path / name)
        np.testing.assert_allclose(mesh.V, V, atol=1e-6)
        np.testing.assert_array_equal(mesh.F, F)


def test_stl_merges_only_identical_corners(tmp_path, shuffled_box):
    V, F = shuffled_box
    trimesh.Trimesh(V, F, process=False).export(tmp_path / "box.stl")
    mesh = load_mesh(tmp_path / "box.stl")
    assert mesh.V.shape == (8, 3) and mesh.F.shape == (12, 3)
    # same triangles, vertex order = first appearance in the file
    np.testing.assert_allclose(mesh.V[mesh.F], V[F], atol=1e-6)
    assert any("merged" in w for w in mesh.warnings)


def test_obj_polygons_negative_indices_and_objects(tmp_path):
    text = """# two objects, a quad with v/vt/vn corners and a triangle with negative indices
o first
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
vt 0 0
vn 0 0 1
f 1/1/1 2/1/1 3/1/1 4/1/1
o second
v 0 0 1
v 1 0 1
v 0 1 1
f -3 -2 -1
l 1 5
"""
    path = tmp_path / "scene.obj"
    path.write_text(text)
    mesh = load_mesh(path)
    assert mesh.V.shape == (7, 3)
    np.testing.assert_array_equal(mesh.F, [[0, 1, 2], [0, 2, 3], [4, 5, 6]])
    assert mesh.N is None  # one vn for seven vertices
    assert any("line" in w for w in mesh.warnings)


def test_gltf_scene_concatenates_nodes_in_file_order_with_transforms(tmp_path):
    a = trimesh.creation.box()
    b = trimesh.creation.icosphere(subdivisions=1)
    scene = trimesh.Scene()
    scene.add_geometry(a, node_name="first")
    scene.add_geometry(b, node_name="second", transform=trimesh.transformations.translation_matrix([5.0, 0, 0]))
    scene.export(tmp_path / "scene.glb")
    mesh = load_mesh(tmp_path / "scene.glb")
    import pygltflib

    doc = pygltflib.GLTF2().load(str(tmp_path / "scene.glb"))
    order = [doc.nodes[i].name for i in doc.scenes[0].nodes]
    parts = {"first": a.vertices, "second": b.vertices + [5.0, 0, 0]}
    expected = np.concatenate([parts[n] for n in order])
    np.testing.assert_allclose(mesh.V, expected, atol=1e-6)
    assert mesh.F.shape == (len(a.faces) + len(b.faces), 3)


def test_point_clouds(tmp_path):
    sphere = trimesh.creation.icosphere(subdivisions=2)
    P, N_true = sphere.vertices, sphere.vertex_normals
    np.savetxt(tmp_path / "plain.xyz", P)
    np.savetxt(tmp_path / "normals.xyz", np.hstack([P, N_true]), delimiter=",")
    trimesh.PointCloud(P).export(tmp_path / "cloud.ply")

    with_normals = load_mesh(tmp_path / "normals.xyz")
    assert with_normals.is_point_cloud and with_normals.F is None
    np.testing.assert_allclose(with_normals.N, N_true, atol=1e-6)

    colours = load_mesh(_write(tmp_path, "colours.xyz", "0 0 0 255 0 0\n1 0 0 0 255 0\n0 1 0 0 0 255\n0 0 1 9 9 9\n"))
    assert any("not unit normals" in w for w in colours.warnings)
    header = "ply\nformat ascii 1.0\nelement vertex 4\n" + "".join(
        f"property float {c}\n" for c in "x y z nx ny nz".split()
    )
    ply = load_mesh(
        _write(
            tmp_path, "normals.ply", header + "end_header\n" + "".join(f"{p[0]} {p[1]} {p[2]} 0 0 2\n" for p in P[:4])
        )
    )
    np.testing.assert_allclose(ply.N, [[0, 0, 1.0]] * 4)  # read from the file and normalised

    for name in ("plain.xyz", "cloud.ply"):
        cloud = load_mesh(tmp_path / name)
        assert cloud.is_point_cloud
        np.testing.assert_allclose(cloud.V, P, atol=1e-6)
        # estimated, consistently oriented outward
        assert np.min(np.einsum("ij,ij->i", cloud.N, N_true)) > 0.9
        assert any("estimated" in w for w in cloud.warnings)


def test_open_and_nonmanifold_meshes_load(tmp_path):
    # three triangles sharing one edge (non-manifold) plus a hole-y open strip: valid input
    V = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]], float)
    F = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])
    trimesh.Trimesh(V, F, process=False).export(tmp_path / "fin.obj")
    mesh = load_mesh(tmp_path / "fin.obj")
    np.testing.assert_array_equal(mesh.F, F)


# --------------------------------------------------------------- bad input
def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("empty.obj", "", "empty"),
        ("binary.obj", b"\x00\x01\x02garbage", "not a text"),
        ("novertex.obj", "# nothing here\n", "no vertices"),
        ("nan.obj", "v nan 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 inf\nf 1 2 3\n", "2 of 4 vertices have NaN"),
        ("range.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "outside 0..2"),
        ("repeat.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 1 2\n", "none of its 1 faces is usable (1 collapsed"),
        ("flat.obj", "v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n", "none of its 1 faces is usable (0 collapsed, 1 of zero"),
        ("text.obj", "v 0 zero 0\n", "line 1"),
        ("short.obj", "v 0 0 0\nv 1 0 0\nf 1 2\n", "at least 3 corners"),
        ("garbage.ply", "this is not a ply file\n", "cannot read PLY"),
        ("garbage.stl", b"\x00" * 10, "cannot read STL"),
        ("bad.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n", "announces"),
        ("bad.xyz", "0 0 0\n1 2\n", "line 2"),
        ("bad.glb", b"glTF-not-really", "GLB"),
        ("mesh.abc", "v 0 0 0\n", "unknown mesh format"),
    ],
)
def test_bad_files_raise_input_error_naming_the_file(tmp_path, name, content, problem):
    path = _write(tmp_path, name, content)
    with pytest.raises(InputError) as info:
        load_mesh(path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="missing.obj: file not found"):
        load_mesh(tmp_path / "missing.obj")


def test_validate_mesh_arrays():
    V = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], float)
    with pytest.raises(InputError, match="^F: contains no faces"):
        validate_mesh(V, np.zeros((0, 3), int), "F")
    with pytest.raises(InputError, match="shape"):
        validate_mesh(V[:, :2], None, "V")
    with pytest.raises(InputError, match="integers"):
        validate_mesh(V, np.array([[0, 1, 2.5]]), "F")
    V2, F2 = validate_mesh(V.tolist(), [[0, 1, 2]], "arrays", warnings=[])
    assert V2.dtype == np.float64 and F2.dtype == np.int64
    assert validate_mesh(V, None)[1] is None


def test_some_degenerate_faces_are_a_warning_not_an_error():
    V = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0]], float)
    F = np.array([[0, 1, 2], [0, 1, 3]])  # second face is collinear
    notes = []
    _, kept = validate_mesh(V, F, "m", warnings=notes)
    assert kept.tolist() == [[0, 1, 2]]
    assert any("1 of 2 faces are of zero area and were dropped" in n for n in notes)
    with pytest.warns(UserWarning) as caught:
        validate_mesh(V, F, "m")
    assert [str(w.message) for w in caught] == [
        "m: 1 of 2 faces are of zero area and were dropped",
        "m: 1 vertices are used by no face (they still get weights)",  # vertex 3 was only on that face
    ]


def test_collapsed_zero_area_and_duplicate_faces_are_dropped_vertices_kept(tmp_path):
    # A quad (two triangles), the same triangle again flipped, a collapsed face, a sliver
    # along an edge, and a vertex no face uses.
    V = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0, 0], [5, 5, 5]], float)
    F = np.array([[0, 1, 2], [0, 2, 3], [2, 1, 0], [0, 0, 3], [0, 4, 1], [1, 2, 3]])
    V2, F2, cleanup = clean_mesh(V, F, "m")
    assert np.array_equal(V2, V)  # vertex order and count unchanged: weights line up
    assert F2.tolist() == [[0, 1, 2], [0, 2, 3], [1, 2, 3]]
    assert (cleanup.collapsed, cleanup.zero_area, cleanup.duplicate, cleanup.unreferenced) == (1, 1, 1, 2)
    assert cleanup.dropped == 3 and cleanup.n_faces == 6
    # The same through a file: counts in the warnings and on the mesh.
    lines = [f"v {x} {y} {z}" for x, y, z in V] + [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in F]
    path = _write(tmp_path, "messy.obj", "\n".join(lines) + "\n")
    mesh = load_mesh(path)
    assert len(mesh.V) == 6 and mesh.F.tolist() == F2.tolist() and mesh.cleanup == cleanup
    text = " ".join(mesh.warnings)
    assert "1 of 6 faces are collapsed" in text and "1 of 6 faces are duplicates" in text
    assert "2 vertices are used by no face" in text


def test_spider_with_collapsed_faces_loads(assimp_models):
    """assimp's OBJ/spider.obj has degenerate faces: loaded with a warning, not refused."""
    mesh = load_mesh(assimp_models / "OBJ" / "spider.obj")
    assert mesh.cleanup.dropped > 0 and any("dropped" in w for w in mesh.warnings)
    assert len(mesh.F) == mesh.cleanup.n_faces - mesh.cleanup.dropped
