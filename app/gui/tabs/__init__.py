"""The panel's tabs, one module each: Mesh, Rig, Weights (its weight-set tools in
:mod:`~fieldrig.gui.tabs.weight_sets`), Pose, Cage, Export.

Each tab shows part of the :class:`~fieldrig.gui.document.Document`, refreshes itself on
its ``changed`` signal, and sends edits to the document (rig edits, pose) or actions to the
:class:`~fieldrig.gui.controller.Controller` (files, training). Buttons that open files
call ``ask_open`` / ``ask_save`` (file dialogs) and then the same controller method a test
or a script calls with a path. :mod:`~fieldrig.gui.tabs.common` holds what they share.

Part of :mod:`fieldrig.gui`: the tabs import Qt, the document, the controller and the
panel's widgets; no tab imports another.
"""

from fieldrig.gui.tabs.cage import CageTab
from fieldrig.gui.tabs.export import ExportTab
from fieldrig.gui.tabs.mesh import MeshTab
from fieldrig.gui.tabs.pose import PoseTab
from fieldrig.gui.tabs.rig import RigTab
from fieldrig.gui.tabs.weights import WeightsTab

__all__ = ["CageTab", "ExportTab", "MeshTab", "PoseTab", "RigTab", "WeightsTab"]
