"""fieldrig.batch: skinning weights for many assets, in worker processes or on a Dask
cluster, resumable; the ``fieldrig batch`` command's engine.

- :mod:`~fieldrig.batch.manifest`: the assets (:class:`Asset`) of a manifest or a folder,
  their settings and safe names, all checked before any work.
- :mod:`~fieldrig.batch.jobs`: one asset's job (:func:`process_asset`), its fingerprint,
  its files inside ``OUTDIR/NAME/`` and its ``report.json`` (with each output's SHA-256).
- :mod:`~fieldrig.batch.local_executor`: worker processes forked from a preloaded fork
  server.
- :mod:`~fieldrig.batch.dask_executor`: the same jobs on a ``dask.distributed`` cluster.
- :mod:`~fieldrig.batch.board`: the progress bars.
- :mod:`~fieldrig.batch.run`: :func:`run_batch` (resume, executors, interrupts,
  ``summary.json``) and its options and summary.

A front end: it may import fieldrig.core, fieldrig.geometry, fieldrig.neural and the API
layer (fieldrig.workflow); nothing imports it but the CLI. torch loads inside the jobs only.
"""

from fieldrig.batch.jobs import fingerprint, is_up_to_date, output_paths, process_asset
from fieldrig.batch.manifest import Asset, check_name, discover_assets, read_manifest
from fieldrig.batch.run import BatchInterrupted, BatchOptions, BatchSummary, run_batch

__all__ = [
    "Asset",
    "BatchInterrupted",
    "BatchOptions",
    "BatchSummary",
    "check_name",
    "discover_assets",
    "fingerprint",
    "is_up_to_date",
    "output_paths",
    "process_asset",
    "read_manifest",
    "run_batch",
]
