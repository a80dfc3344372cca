"""Media for the demo corpus: per movie a small image, a short video (with sound when ffmpeg
is installed), an audio clip and a description, all shaped by the movie's primary genre so
that the features computed from them carry signal.

- image: the genre's hue as background, stripes whose frequency depends on the genre;
- video: a square of the genre's hue moving at a genre-dependent speed;
- audio: a tone whose pitch depends on the genre, with genre-dependent noise;
- text: a sentence built from the genre's own vocabulary.

Deterministic for a seed; about a millisecond per file except the optional muxing.
"""

from __future__ import annotations

import csv
import colorsys
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from timgen_data.demo.corpus import GENRES

SAMPLE_RATE = 16_000
SIZE, FRAMES, FPS = 48, 12, 12
_WORDS = {
    "Action": "explosive chase fight hero mission", "Adventure": "quest journey treasure island expedition",
    "Animation": "cartoon colourful animated talking animals", "Children's": "family kids friendship school puppy",
    "Comedy": "hilarious funny laughs prank awkward", "Crime": "heist detective gangster police murder",
    "Documentary": "real footage interviews history nature", "Drama": "emotional family loss struggle tears",
    "Fantasy": "magic dragon wizard kingdom spell", "Film-Noir": "shadows femme fatale rain cigarette detective",
    "Horror": "haunted scream blood terror ghost", "Musical": "songs dance stage singing chorus",
    "Mystery": "clue secret puzzle disappearance riddle", "Romance": "love kiss wedding heart couple",
    "Sci-Fi": "space alien robot future starship", "Thriller": "suspense danger conspiracy chase twist",
    "War": "soldiers battle army front trenches", "Western": "cowboy desert sheriff horses saloon",
}


def genre_colour(genre: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(genre / len(GENRES), 0.8, 0.9)
    return int(r * 255), int(g * 255), int(b * 255)


def _image(genre: int, rng: np.random.Generator) -> np.ndarray:
    image = np.empty((SIZE, SIZE, 3), dtype=np.uint8)
    image[:] = genre_colour(genre)
    period = 3 + genre % 6  # stripe frequency: texture that depends on the genre
    stripes = (np.arange(SIZE) // period) % 2 == 0
    image[stripes] = (image[stripes] * 0.6).astype(np.uint8)
    noise = rng.integers(-12, 13, size=image.shape)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def _video(path: Path, genre: int) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (SIZE, SIZE))
    colour = genre_colour(genre)[::-1]  # OpenCV writes BGR
    speed = 1 + genre % 5
    for t in range(FRAMES):
        frame = np.full((SIZE, SIZE, 3), 20, dtype=np.uint8)
        x = (t * speed * 2) % (SIZE - 16)
        frame[16:32, x:x + 16] = colour
        writer.write(frame)
    writer.release()


def _audio(genre: int, rng: np.random.Generator, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    pitch = 220.0 * 2 ** (genre / 12)
    tone = 0.5 * np.sin(2 * np.pi * pitch * t) + 0.2 * np.sin(2 * np.pi * 2 * pitch * t)
    noise = rng.normal(0, 0.02 + 0.03 * (genre % 3), size=t.shape)
    return (tone + noise).astype(np.float32)


def _description(title: str, genre: int, rng: np.random.Generator) -> str:
    words = _WORDS[GENRES[genre]].split()
    picked = rng.choice(words, size=4, replace=True)
    return f"{title}. A {GENRES[genre].lower()} film: {', '.join(picked)}. Full of {words[0]} and {words[-1]}."


def write_demo_media(movies_csv: Path, dest: Path, *, seed: int = 0, with_sound: bool = True) -> list[tuple[str, str, str]]:
    """Write media for every movie of a latest-small ``movies.csv`` under ``dest``.

    Returns (movie id, modality, path relative to ``dest``) for each file written.
    """
    from PIL import Image
    import soundfile

    rng = np.random.default_rng(seed)
    dest.mkdir(parents=True, exist_ok=True)
    with movies_csv.open(encoding="utf-8", newline="") as handle:
        movies = [(row["movieId"], row["title"], row["genres"].split("|")[0]) for row in csv.DictReader(handle)]
    entries: list[tuple[str, str, str]] = []
    mux: list[tuple[Path, Path, Path]] = []
    ffmpeg = shutil.which("ffmpeg") if with_sound else None
    for movie_id, title, genre_name in movies:
        genre = GENRES.index(genre_name) if genre_name in GENRES else 0
        stem = f"m{movie_id}"
        Image.fromarray(_image(genre, rng)).save(dest / f"{stem}.png")
        soundfile.write(dest / f"{stem}.wav", _audio(genre, rng), SAMPLE_RATE)
        (dest / f"{stem}.txt").write_text(_description(title, genre, rng), encoding="utf-8")
        silent = dest / (f"{stem}-silent.mp4" if ffmpeg else f"{stem}.mp4")
        _video(silent, genre)
        if ffmpeg:
            mux.append((silent, dest / f"{stem}.wav", dest / f"{stem}.mp4"))
        entries += [(movie_id, "image", f"{stem}.png"), (movie_id, "audio", f"{stem}.wav"),
                    (movie_id, "text", f"{stem}.txt"), (movie_id, "video", f"{stem}.mp4")]
    # ffmpeg's start-up dominates a clip this small: one process muxes a group of clips.
    groups = [mux[i:i + MUX_GROUP] for i in range(0, len(mux), MUX_GROUP)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda group: _mux(ffmpeg, group), groups))
    return entries


MUX_GROUP = 40


def _mux(ffmpeg: str, jobs: list[tuple[Path, Path, Path]]) -> None:
    """Put each clip's sound into its video (AAC in MP4); keeps the silent ones if ffmpeg fails."""
    command = [ffmpeg, "-loglevel", "error", "-y"]
    for video, audio, _ in jobs:
        command += ["-i", str(video), "-i", str(audio)]
    for n, (_, _, out) in enumerate(jobs):
        command += ["-map", f"{2 * n}:v", "-map", f"{2 * n + 1}:a", "-c:v", "copy", "-c:a", "aac", "-shortest",
                    str(out)]
    result = subprocess.run(command, capture_output=True, timeout=300)
    for video, _, out in jobs:
        if result.returncode == 0 and out.exists():
            video.unlink()
        else:
            video.replace(out)


def manifest_rows(entries: list[tuple[str, str, str]], namespace: str, base_url: str) -> list[dict[str, str]]:
    """Rows in ``align assets --manifest`` form pointing at the files served from ``base_url``."""
    return [{"source": namespace, "item_id": movie_id, "modality": modality, "uri": f"{base_url}/{path}"}
            for movie_id, modality, path in entries]
