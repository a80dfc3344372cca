"""``collect <source> --media``: fetch the media a collect run just planned, right after it.

Collectors only plan assets (pending rows in ``assets``); fetching them is the align
stage's ``align assets``. Stages never import each other, so the one-command convenience
lives here on the top floor: the source's command runs its collect, then this fetch for
that source's namespace, and shows the two reports side by side. The collect report (and
the counts its ``sources`` row records) stays about the rows the source gave; what the
fetch did is the media report's.
"""

from __future__ import annotations

from collections.abc import Sequence

from timgen_data.alignment.assets import AssetReport, FetchOptions, collect_assets
from timgen_data.alignment.content_store import ContentStore
from timgen_data.cli.options import Settings
from timgen_data.cli.render import console, print_mapping
from timgen_data.store import Store
from timgen_common.progress import Progress

ASSETS_FOLDER = "assets"  # under the data dir, where `align assets` keeps the content store too
SHOWN_FAILURES = 10


def fetch_planned_media(settings: Settings, store: Store, namespace: str, modalities: Sequence[str], *,
                        options: FetchOptions | None = None, progress: Progress) -> AssetReport:
    """What ``align assets --source NAMESPACE --modality …`` does: plan what is left and fetch
    every pending asset of ``modalities`` of that source (earlier runs' ones too)."""
    return collect_assets(store, ContentStore(settings.data_path / ASSETS_FOLDER), list(modalities),
                          sources=(namespace,), options=options or FetchOptions(), progress=progress)


def show_media(assets: AssetReport) -> None:
    print_mapping("media", {"planned": assets.planned, "fetched": assets.fetched, "failed": assets.failed,
                            "done in an earlier run": assets.skipped})
    for failure in assets.failures[:SHOWN_FAILURES]:
        console.print(f"  failed {failure['modality']} {failure['uri']}: {failure['error']}", markup=False)
    if len(assets.failures) > SHOWN_FAILURES:
        console.print(f"  … and {len(assets.failures) - SHOWN_FAILURES} more (see --json)")
