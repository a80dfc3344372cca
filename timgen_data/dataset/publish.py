"""Publish a built dataset folder to the Hugging Face Hub as a dataset repo.

``publish_dataset`` takes the folder written by ``timgen-data build`` (a dataset
card ``README.md`` whose ``configs:`` point at ``interactions/`` and ``items/``
parquet files), creates the repo if needed and uploads the folder in one call.
With ``pseudonymize=True`` it uploads a staged copy whose ``user_id`` values are
replaced by salted hashes (:mod:`.pseudonyms`); the local files are never changed.

The token never leaves this module except in the Authorization header: it is not
part of any message, exception or return value.
"""

from __future__ import annotations

import importlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from timgen_data.dataset.pseudonyms import resolve_salt, stage_pseudonymized_copy
from timgen_data.errors import PublishError, UsageError

DEFAULT_COMMIT_MESSAGE = "Publish dataset with timgen-data"

# Dotfiles and dot-folders (the salt file, editor and cache litter) stay local.
# fnmatch's "*" also matches "/", so these two patterns cover every depth.
_IGNORE_PATTERNS = (".*", "**/.*")


@dataclass(frozen=True)
class PublishResult:
    """What was published, and where."""

    repo_id: str
    url: str  # the repo page on the endpoint, e.g. https://huggingface.co/datasets/me/ds
    files: list[str]  # repo-relative paths the commit covers (unchanged files included)
    pseudonymized: bool
    commit_oid: str | None  # head of main after the upload


def publish_dataset(
    dataset_dir: Path,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    pseudonymize: bool = False,
    salt: str | None = None,
    commit_message: str | None = None,
) -> PublishResult:
    """Upload ``dataset_dir`` to the dataset repo ``repo_id`` (created if missing).

    ``token`` defaults to huggingface_hub's own lookup (``HF_TOKEN``, then the
    token saved by ``hf auth login``); ``endpoint`` defaults to the Hub
    (``HF_ENDPOINT`` or https://huggingface.co). With ``pseudonymize`` the
    ``user_id`` column of every interactions parquet file is replaced by
    ``sha256(salt + user_id)[:16]``; the salt is ``salt``, else
    ``$TIMGEN_PSEUDONYM_SALT``, else a random one kept in
    ``<dataset_dir>/.pseudonym_salt`` so that republishing gives the same ids.

    Raises ``UsageError`` for a folder that is not a built dataset or a bad repo
    id, and ``PublishError`` when no token is available or the Hub refuses.
    """
    dataset_dir = Path(dataset_dir)
    _check_dataset_dir(dataset_dir)
    _check_repo_id(repo_id)
    if salt is not None and not salt:
        raise UsageError("The pseudonymization salt is empty: pass a non-empty salt or leave it unset.")

    # Imported here so that `timgen-data --help` and the rest of the CLI do not pay for it.
    import huggingface_hub
    from huggingface_hub import constants as hub_constants
    from huggingface_hub.errors import HfHubHTTPError

    if token is None:
        token = huggingface_hub.get_token()
    if not token:
        raise PublishError(
            "No Hugging Face token found: set HF_TOKEN to a token with write access or run `hf auth login`."
        )

    api = huggingface_hub.HfApi(endpoint=endpoint, token=token)
    with tempfile.TemporaryDirectory(prefix="timgen-publish-") as staging_root:
        upload_dir = dataset_dir
        if pseudonymize:
            upload_dir = Path(staging_root) / "dataset"
            stage_pseudonymized_copy(dataset_dir, upload_dir, resolve_salt(dataset_dir, salt))
        files = _files_to_upload(upload_dir)
        try:
            repo_url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            commit = api.upload_folder(
                repo_id=repo_id,
                repo_type="dataset",
                folder_path=upload_dir,
                commit_message=commit_message or DEFAULT_COMMIT_MESSAGE,
                ignore_patterns=list(_IGNORE_PATTERNS),  # upload_folder extends the list it is given
            )
        except HfHubHTTPError as exc:
            raise PublishError(_scrub(_http_error_message(exc, repo_id), token)) from exc
        except _transport_errors() as exc:
            where = endpoint or hub_constants.ENDPOINT
            message = (
                f"Could not reach the Hub at {where} ({type(exc).__name__}): "
                "check the network and HF_ENDPOINT."
            )
            raise PublishError(_scrub(message, token)) from exc
        except ValueError as exc:
            # huggingface_hub raises ValueError when the Hub rejects the card's YAML metadata.
            text = str(exc).strip()
            first_line = text.splitlines()[0] if text else type(exc).__name__
            message = (
                f"The Hub refused {repo_id}: {first_line} Fix README.md or rebuild with `timgen-data build`."
            )
            raise PublishError(_scrub(message, token)) from exc

    return PublishResult(
        repo_id=repo_id,
        url=str(repo_url),
        files=files,
        pseudonymized=pseudonymize,
        commit_oid=getattr(commit, "oid", None),
    )


# -- checks ---------------------------------------------------------------------


def _check_dataset_dir(dataset_dir: Path) -> None:
    missing = [
        name
        for name, ok in (
            ("README.md", (dataset_dir / "README.md").is_file()),
            ("interactions/", (dataset_dir / "interactions").is_dir()),
        )
        if not ok
    ]
    if not dataset_dir.is_dir() or missing:
        what = "does not exist" if not dataset_dir.is_dir() else f"lacks {' and '.join(missing)}"
        raise UsageError(
            f"{dataset_dir} is not a built dataset ({what}): "
            "run `timgen-data build` first and publish its output folder."
        )


def _check_repo_id(repo_id: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts):
        raise UsageError(
            f"Repo id {repo_id!r} must look like 'namespace/name' (your user name or an organization)."
        )
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise UsageError(f"Repo id {repo_id!r} is not valid on the Hub: {exc}") from None


def _files_to_upload(folder: Path) -> list[str]:
    """The relative paths upload_folder will send: everything but dot-paths."""
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


# -- errors -----------------------------------------------------------------------


def _http_error_message(exc: Exception, repo_id: str) -> str:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status == 401:
        return (
            f"The Hub rejected the token (HTTP 401) while publishing {repo_id}: "
            "set HF_TOKEN to a valid token or run `hf auth login` again."
        )
    if status == 403:
        return (
            f"The token may not write to {repo_id} (HTTP 403): use a token with write permission "
            "(fine-grained tokens need write access to that namespace)."
        )
    if status == 404:
        return (
            f"The Hub could not find {repo_id} or its namespace (HTTP 404): check the repo id, and that the "
            "namespace is your user name or an organization you can write to."
        )
    if status in (409, 412):
        return f"Someone else changed {repo_id} during the upload (HTTP {status}): publish again."
    if status is not None and (status == 429 or status >= 500):
        return f"The Hub is busy or unavailable (HTTP {status}) while publishing {repo_id}: try again later."
    server_message = getattr(exc, "server_message", None) or ""
    detail = f": {server_message.strip().splitlines()[0]}" if server_message.strip() else ""
    return f"Publishing {repo_id} failed (HTTP {status}){detail}."


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Network-level exception types of whichever HTTP client huggingface_hub uses
    (httpx2 in 2.x, httpx or requests in older releases)."""
    errors: list[type[BaseException]] = []
    for module_name, names in (
        ("httpx2", ("TransportError",)),
        ("httpx", ("TransportError",)),
        ("requests", ("ConnectionError", "Timeout")),
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        errors.extend(getattr(module, name) for name in names if hasattr(module, name))
    return tuple(errors)


def _scrub(message: str, token: str) -> str:
    """Belt and braces: never let the token appear in a message."""
    return message.replace(token, "***") if token else message
