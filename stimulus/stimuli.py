"""The set of face stimuli a protocol draws from: built-in drawings or a lab's own images.

A lab's folder carries a ``manifest.csv`` with the columns ``file, identity,
emotion, morph`` (morph from -1 sad through 0 neutral to 1 happy; emotion is
the category the training gives feedback on: sad, neutral or happy). The
built-in set exports to exactly that layout, so both paths share one
format. Images are checked when the set is loaded, not when trial 40 needs
one, so a missing file stops the session before it starts.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage

from configs import ConfigError
from stimulus import faces
from stimulus.protocol import CHOICES, StimulusSpec

MANIFEST_COLUMNS = ("file", "identity", "emotion", "morph")


@dataclass(frozen=True)
class Face:
    """One face stimulus; ``file`` is its path (or ``builtin/<id>_<morph>.png`` for drawn ones)."""

    identity: str
    morph: float
    emotion: str
    file: str


class StimulusSet:
    """Faces by identity and morph, with the images cached at the size they are shown."""

    def __init__(self, items: list[Face], images: dict[str, QImage] | None = None,
                 builtin_size: int = 512) -> None:
        if not items:
            raise ValueError("a stimulus set needs at least one face")
        self.items = items
        self._images: dict[str, QImage] = dict(images or {})
        self._scaled: dict[tuple[str, int], QImage] = {}
        self._builtin_size = builtin_size

    # -- building ------------------------------------------------------------
    @classmethod
    def builtin(cls, identities: int = 4, levels: int = 9, size: int = 512) -> StimulusSet:
        items = [Face(ident.name, m, faces.emotion_of(m), builtin_file(ident.name, m))
                 for ident in faces.IDENTITIES[:identities] for m in faces.morph_levels(levels)]
        return cls(items, builtin_size=size)

    @classmethod
    def from_manifest(cls, manifest: str | os.PathLike) -> StimulusSet:
        """Load a lab's folder; errors name the manifest, its line and the column."""
        manifest = Path(manifest)
        folder = manifest.parent
        try:
            with manifest.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                header = [h.strip() for h in (reader.fieldnames or [])]
                missing = [c for c in MANIFEST_COLUMNS if c not in header]
                if missing:
                    raise ConfigError(manifest, "header",
                                      f"missing column(s) {', '.join(missing)}; "
                                      f"needs {', '.join(MANIFEST_COLUMNS)}")
                rows = [({k.strip(): (v or "").strip() for k, v in row.items() if k}, reader.line_num)
                        for row in reader]
        except OSError as exc:
            raise ConfigError(manifest, "", f"cannot read: {exc.strerror or exc}") from exc
        items: list[Face] = []
        images: dict[str, QImage] = {}
        for row, line in rows:
            where = f"line {line}"
            file = row["file"]
            if not file:
                raise ConfigError(manifest, f"{where}: file", "is empty")
            path = Path(file) if Path(file).is_absolute() else folder / file
            if not path.is_file():
                raise ConfigError(manifest, f"{where}: file", f"{path} does not exist")
            image = QImage(str(path))
            if image.isNull():
                raise ConfigError(manifest, f"{where}: file", f"{path} is not a readable image")
            if not row["identity"]:
                raise ConfigError(manifest, f"{where}: identity", "is empty")
            if row["emotion"] not in CHOICES:
                raise ConfigError(manifest, f"{where}: emotion",
                                  f"must be one of {', '.join(CHOICES)}; got {row['emotion']!r}")
            try:
                morph = float(row["morph"])
            except ValueError:
                raise ConfigError(manifest, f"{where}: morph",
                                  f"must be a number from -1 to 1, got {row['morph']!r}") from None
            if not -1.0 <= morph <= 1.0:
                raise ConfigError(manifest, f"{where}: morph", f"must be from -1 to 1, got {morph}")
            face = Face(row["identity"], morph, row["emotion"], str(path))
            items.append(face)
            images[face.file] = image
        if not items:
            raise ConfigError(manifest, "", "lists no faces")
        return cls(items, images)

    @classmethod
    def for_spec(cls, spec: StimulusSpec) -> StimulusSet:
        if spec.source == "folder":
            assert spec.manifest is not None
            return cls.from_manifest(spec.manifest)
        return cls.builtin(spec.identities, spec.morph_levels, spec.size)

    # -- queries ---------------------------------------------------------------
    @property
    def identities(self) -> list[str]:
        return sorted({f.identity for f in self.items})

    @property
    def morphs(self) -> list[float]:
        return sorted({f.morph for f in self.items})

    def intensities(self) -> list[float]:
        """Distinct non-zero |morph| values, clearest first: the staircase's steps."""
        return sorted({abs(f.morph) for f in self.items if abs(f.morph) > 1e-9}, reverse=True)

    def select(self, identities: tuple[str, ...] | None = None,
               morphs: tuple[float, ...] | None = None) -> list[Face]:
        out = self.items
        if identities is not None:
            out = [f for f in out if f.identity in identities]
        if morphs is not None:
            out = [f for f in out if any(abs(f.morph - m) < 1e-6 for m in morphs)]
        return out

    def find(self, morph: float, identity: str | None = None) -> Face:
        """The face nearest ``morph``, of ``identity`` when that identity has one that close."""
        pool = [f for f in self.items if identity is None or f.identity == identity] or self.items
        best = min(pool, key=lambda f: abs(f.morph - morph))
        if identity is not None and abs(best.morph - morph) > 1e-6:
            best = min(self.items, key=lambda f: abs(f.morph - morph))
        return best

    # -- images ------------------------------------------------------------------
    def image(self, face: Face, height: int | None = None) -> QImage:
        """The face image, scaled (smoothly, once) to ``height`` pixels when given."""
        if face.file.startswith("builtin/") and height is not None:
            key = (face.file, height)
            if key not in self._scaled:  # drawn faces are drawn at the shown size: sharp, no resampling
                self._scaled[key] = faces.render_face(face.identity, face.morph, height)
            return self._scaled[key]
        base = self._images.get(face.file)
        if base is None:
            base = faces.render_face(face.identity, face.morph, self._builtin_size)
            self._images[face.file] = base
        if height is None or height == base.height():
            return base
        key = (face.file, height)
        if key not in self._scaled:
            self._scaled[key] = base.scaledToHeight(height, Qt.TransformationMode.SmoothTransformation)
        return self._scaled[key]


def builtin_file(identity: str, morph: float) -> str:
    """Stable name of a drawn face, e.g. ``builtin/A_m+0.250.png`` (what markers report)."""
    return f"builtin/{identity}_m{morph:+.3f}.png"


def export_builtin(folder: str | os.PathLike, identities: int = 6, levels: int = 9,
                   size: int = 512) -> Path:
    """Write the drawn set as PNGs plus manifest.csv, the same layout a lab's folder uses."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.csv"
    stimset = StimulusSet.builtin(identities, levels, size)
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(MANIFEST_COLUMNS)
        for face in stimset.items:
            name = Path(face.file).name
            if not stimset.image(face).save(str(folder / name)):
                raise OSError(f"could not write {folder / name}")
            writer.writerow([name, face.identity, face.emotion, f"{face.morph:g}"])
    return manifest
