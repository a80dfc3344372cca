"""Class vocabularies per scenario: the source's own class list plus what was observed."""

from __future__ import annotations

from typing import Iterable

# Every genre any MovieLens release uses.
MOVIE_GENRES = (
    "Action", "Adventure", "Animation", "Children", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western", "unknown",
)
# Amazon Reviews 2023 main categories.
PRODUCT_CATEGORIES = (
    "All Beauty", "Amazon Fashion", "Appliances", "Arts, Crafts & Sewing", "Automotive", "Baby Products",
    "Beauty & Personal Care", "Books", "CDs & Vinyl", "Cell Phones & Accessories", "Clothing, Shoes & Jewelry",
    "Digital Music", "Electronics", "Gift Cards", "Grocery & Gourmet Food", "Handmade Products",
    "Health & Household", "Health & Personal Care", "Home & Kitchen", "Industrial & Scientific", "Kindle Store",
    "Magazine Subscriptions", "Movies & TV", "Musical Instruments", "Office Products", "Patio, Lawn & Garden",
    "Pet Supplies", "Software", "Sports & Outdoors", "Subscription Boxes", "Tools & Home Improvement",
    "Toys & Games", "Video Games",
)
# YouTube's assignable video categories (videoCategories.list, region US).
VIDEO_CATEGORIES = (
    "Film & Animation", "Autos & Vehicles", "Music", "Pets & Animals", "Sports", "Travel & Events",
    "Gaming", "People & Blogs", "Comedy", "Entertainment", "News & Politics", "Howto & Style",
    "Education", "Science & Technology", "Nonprofits & Activism",
)
KNOWN_CLASSES = {"movie": MOVIE_GENRES, "ecommerce": PRODUCT_CATEGORIES, "video": VIDEO_CATEGORIES}


def class_vocabulary(observed: Iterable[str | None] = ()) -> list[str]:
    """Sorted vocabulary: the classes observed, whatever the scenario.

    Only observed classes are kept so a model's class head has no dead outputs; the known
    lists exist to spot typos (see :func:`unknown_classes`; a class outside them is still kept).

    >>> class_vocabulary(["Drama", "Comedy", None, "Drama"])
    ['Comedy', 'Drama']
    """
    return sorted({c for c in observed if c})


def unknown_classes(scenario: str, vocabulary: Iterable[str]) -> list[str]:
    """Classes outside the scenario's known list (worth a look: a typo or a new category)."""
    known = set(KNOWN_CLASSES.get(scenario, ()))
    return sorted(c for c in vocabulary if c not in known)
