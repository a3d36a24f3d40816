"""Loading and checking meshes: seconds for load_mesh and check_mesh on the reference meshes
and on a large generated sphere.

    python bench/bench_mesh_check.py [--data ../shared/data] [--subdivisions 7]
"""

import argparse
import tempfile
import time
from pathlib import Path

import trimesh

from fieldrig.geometry.mesh_check import check_mesh
from fieldrig.geometry.mesh_io import load_mesh

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--subdivisions", type=int, default=7, help="icosphere level of the large mesh (7 = 164k vertices)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / f"icosphere{args.subdivisions}.obj"
        trimesh.creation.icosphere(subdivisions=args.subdivisions).export(big)
        paths = [p for p in (args.data / n for n in ("arm.obj", "spot.obj", "woody.obj")) if p.is_file()] + [big]
        for path in paths:
            t0 = time.perf_counter()
            mesh = load_mesh(path)
            t1 = time.perf_counter()
            report = check_mesh(mesh.V, mesh.F, str(path))
            t2 = time.perf_counter()
            print(
                f"{path.name:<18} {len(mesh.V):>7} vertices {len(mesh.F):>7} faces: load {t1 - t0:6.2f} s, "
                f"check {t2 - t1:6.2f} s, closed={report.closed}, BBW feasible={report.bbw_feasible}"
            )


if __name__ == "__main__":
    main()
