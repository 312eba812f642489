"""Fetch promptsource 0.2.3's own `templates.py` and import it without its heavy dependencies.

promptsource 0.2.3 pins Python < 3.10 and old packages (streamlit 0.82, datasets, pandas ...),
so it is NOT installed. Instead we `pip download` its sdist (no deps), check its sha256,
extract `promptsource/templates.py`, and import that single module with the real jinja2 and
pyyaml. The two imports it makes that rendering never uses (`pandas`, `pkg_resources`) are
replaced by stub modules.

Requirements (pin): jinja2==3.0.3 pyyaml==6.0.1
(jinja2 3.0.3, Nov 2021, is the release current when promptsource 0.2.3 came out in early 2022;
pyyaml 6.0.1 is 6.0 with wheels for newer Pythons.)
"""

import hashlib
import importlib.util
import os
import subprocess
import sys
import tarfile
import types

SDIST = "promptsource-0.2.3.tar.gz"
SDIST_SHA256 = "f106c889778a0fe5590e7183904bf964e1a01691c8a29451e44f3df5ddef05f5"
MEMBER = "promptsource-0.2.3/promptsource/templates.py"


def fetch_templates_py(cache_dir):
    os.makedirs(cache_dir, exist_ok=True)
    sdist = os.path.join(cache_dir, SDIST)
    if not os.path.exists(sdist):
        subprocess.check_call(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--ignore-requires-python",
             "--no-binary", ":all:", "-d", cache_dir, "promptsource==0.2.3"])
    digest = hashlib.sha256(open(sdist, "rb").read()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{sdist}: sha256 {digest} != expected {SDIST_SHA256}")
    out = os.path.join(cache_dir, "promptsource_templates.py")
    with tarfile.open(sdist) as tar:
        data = tar.extractfile(MEMBER).read()
    with open(out, "wb") as f:
        f.write(data)
    return out


def import_reference(cache_dir):
    """Returns promptsource 0.2.3's `templates` module."""
    import jinja2
    import yaml

    if jinja2.__version__ != "3.0.3":
        print(f"warning: jinja2 {jinja2.__version__}, the goldens were made with 3.0.3", file=sys.stderr)
    if not yaml.__version__.startswith("6.0"):
        print(f"warning: pyyaml {yaml.__version__}, the goldens were made with 6.0.1", file=sys.stderr)
    path = fetch_templates_py(cache_dir)
    # Stubs: templates.py imports pandas (unused by rendering) and calls
    # pkg_resources.resource_filename at import time (we point it at our folder later).
    sys.modules.setdefault("pandas", types.ModuleType("pandas"))
    pkg = types.ModuleType("pkg_resources")
    pkg.resource_filename = lambda name, rel: rel
    sys.modules["pkg_resources"] = pkg
    spec = importlib.util.spec_from_file_location("promptsource_templates", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
