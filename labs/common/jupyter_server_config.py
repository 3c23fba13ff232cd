"""Both labs: notebooks are saved with each widget output as one line saying to run its cell (labs/saved_widgets.py).

Python rather than JSON because the hook is a function; the rest of the configuration is in the JSON file beside
this one.
"""
import importlib.util
import warnings
from pathlib import Path

# The server applies its configuration twice (again when JupyterLab's extension loads), and traitlets then warns
# that the hook replaces itself: a line in the terminal that `make lab` keeps for the URL.
warnings.filterwarnings("ignore", message=r"Overriding existing pre_save_hook \(pre_save\)")

_spec = importlib.util.spec_from_file_location("deepgrad_saved_widgets",
                                               Path(__file__).resolve().parent.parent / "saved_widgets.py")
_saved_widgets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_saved_widgets)

c = get_config()  # noqa: F821 (Jupyter's config loader provides get_config)
c.ContentsManager.pre_save_hook = _saved_widgets.pre_save
