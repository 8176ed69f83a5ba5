"""mailhub's own static files: its scripts and the editor's, built by mailhub/web/editor/build
into templates/web/static/ (nothing from a CDN; the Content-Security-Policy allows scripts from
this origin only). Only the files named here are served."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import FileResponse

from mailhub import TEMPLATES_DIR
from mailhub.errors import NotFound

STATIC = TEMPLATES_DIR / "web" / "static"
FILES = frozenset({"search.js", "editor.js", "ui.js", "vendor/squire.js", "vendor/purify.min.js"})


def register(app: FastAPI) -> None:
    @app.get("/static/{name:path}")
    def static(name: str) -> FileResponse:
        if name not in FILES:
            raise NotFound(name)
        return FileResponse(
            STATIC / name,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=3600"},
        )
