"""A griffie list imported through the console: the uploaded file kept by its SHA-256, a dry run
that shows exactly what will change, and the confirmation that applies exactly that file and
that plan (refused when the file or the store changed since the preview).

The import itself is newsletter.people.imports.import_list, the same as `subscribers import`.
The kept files are under build/imports/ (so `forget` redacts a person from them as well), and
only as long as they are needed (a list holds personal data): removed when the import is done
or cancelled, and any left behind (a preview nobody confirmed) once older than a day, by the
next upload and by every tick.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.people.import_file import read_import, rejects_text
from newsletter.people.imports import ImportReport, import_list

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
KEPT_FOR = timedelta(days=1)  # an upload nobody confirmed or cancelled is removed after this


class PlanChanged(NewsletterError):
    """The store changed since the preview: `report` is the new dry run, to show instead."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(
            "the import would now change something else than the preview showed (the store "
            "changed meanwhile); look at the new preview and confirm that one"
        )
        self.report = report


@dataclass(frozen=True)
class Upload:
    digest: str  # SHA-256 of the bytes, hex
    name: str  # the file name as uploaded, made safe
    path: Path


def _folder(settings: Settings) -> Path:
    return settings.build_dir / "imports"


def safe_name(filename: str) -> str:
    """The uploaded file's own name, without folders or odd characters; it must end in .csv."""
    name = _UNSAFE.sub("-", filename.replace("\\", "/").rsplit("/", 1)[-1]).strip(".-")
    if not name.lower().endswith(".csv") or len(name) <= len(".csv"):
        raise NewsletterError(f"'{filename}' is not a CSV file; save the list as .csv first")
    return name[-120:]


def keep_upload(settings: Settings, data: bytes, filename: str) -> Upload:
    """Keep an uploaded list under its SHA-256 (the same bytes twice: one file); uploads older
    than a day are removed first."""
    name = safe_name(filename)
    remove_old_uploads(settings, clock.now())
    if not data.strip():
        raise NewsletterError(f"{name}: the file is empty")
    digest = hashlib.sha256(data).hexdigest()
    path = _folder(settings) / digest / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        temporary = path.with_name(f".{name}.tmp")
        temporary.write_bytes(data)
        temporary.replace(path)
    return Upload(digest, name, path)


def find_upload(settings: Settings, digest: str) -> Upload:
    """The kept upload with this SHA-256; refused when it is gone or its bytes changed."""
    if not _DIGEST.match(digest):
        raise NewsletterError("no such uploaded list")
    files = sorted(p for p in (_folder(settings) / digest).glob("*.csv") if p.is_file())
    if not files:
        raise NewsletterError("the uploaded list is no longer there; upload it again")
    path = files[0]
    if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        raise NewsletterError(
            f"{path.name}: the uploaded list changed since the preview; upload it again"
        )
    return Upload(digest, path.name, path)


def preview(
    db: Database, settings: Settings, upload: Upload, province: str | None, replace: bool
) -> ImportReport:
    """What importing the upload would change, as `subscribers import --dry-run` says it."""
    return import_list(db, settings, upload.path, province, replace=replace, dry_run=True)


def confirm(
    db: Database,
    settings: Settings,
    digest: str,
    province: str | None,
    replace: bool,
    plan: str,
    actor: str,
) -> ImportReport:
    """Import exactly the previewed file, when it would still do exactly what the preview
    (`plan`, its ImportReport.plan_digest) showed; else PlanChanged with the new preview."""
    upload = find_upload(settings, digest)
    again = preview(db, settings, upload, province, replace)
    if again.plan_digest() != plan:
        raise PlanChanged(again)
    report = import_list(db, settings, upload.path, province, replace=replace, actor=actor)
    discard(settings, digest)  # imported: the list is in the store, the file is not needed
    return report


def discard(settings: Settings, digest: str) -> bool:
    """Remove a kept upload (done or cancelled); True when there was one."""
    if not _DIGEST.match(digest):
        return False
    folder = _folder(settings) / digest
    if not folder.is_dir():
        return False
    shutil.rmtree(folder)
    return True


def remove_old_uploads(settings: Settings, now: datetime, kept_for: timedelta = KEPT_FOR) -> int:
    """Remove the uploads kept longer than `kept_for` (by the time they were last uploaded);
    how many were removed."""
    folder = _folder(settings)
    if not folder.is_dir():
        return 0
    removed = 0
    for kept in folder.iterdir():
        if not kept.is_dir() or not _DIGEST.match(kept.name):
            continue
        changed = max((p.stat().st_mtime for p in kept.iterdir()), default=kept.stat().st_mtime)
        if now.timestamp() - changed > kept_for.total_seconds():
            shutil.rmtree(kept)
            removed += 1
    return removed


def rejects(
    settings: Settings,
    digest: str,
    province: str | None,
    reason: Callable[[str], str] | None = None,
) -> tuple[str, str]:
    """The rejected rows of a kept upload with a 'reden' column: file name and CSV text
    (UTF-8 with a BOM, so that Excel shows the accents); `reason` words each reason."""
    upload = find_upload(settings, digest)
    listed = read_import(upload.path, settings, province, clock.today())
    stem = upload.name.rsplit(".", 1)[0]
    return f"{stem}-afgewezen.csv", "\ufeff" + rejects_text(listed, reason)
