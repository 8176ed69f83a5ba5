"""mailhub: email as the front door of a company intranet.

Mail in becomes pages and comments; notifications go out that people chose and can act on.
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

#: The repository root: templates/ and schema/ live beside the package, not inside it.
ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
SCHEMA_DIR = ROOT / "schema"
