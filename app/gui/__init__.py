"""fieldrig.gui: the desktop app (polyscope viewer window + PyQt6 panel). Imports Qt and polyscope."""
