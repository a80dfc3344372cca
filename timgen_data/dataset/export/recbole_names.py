"""Dataset names RecBole 1.2.1 treats as its own, so an export never takes one of them.

RecBole reads the files of a dataset named ``ml-100k`` from the copy bundled with it, whatever
``data_path`` says; for a name with a file in its ``properties/dataset/`` folder (``ml-100k``,
``sample``, ``url``, ``kg_url``) it merges that file into the run's configuration; and a name
listed in its ``url.yaml`` / ``kg_url.yaml`` is downloaded from its servers whenever the folder
is not where ``data_path`` points, so a mistyped path trains on RecBole's copy without a word.
The list is those files' names as released in RecBole 1.2.1.
"""

from __future__ import annotations

RESERVED = frozenset("""
adult alibaba-ifashion aliec amazon-all-beauty-18 amazon-all-beauty-23 amazon-appliances-18
amazon-appliances-23 amazon-apps-for-android amazon-arts-crafts-sewing-18 amazon-arts-crafts-sewing-23
amazon-automotive amazon-automotive-18 amazon-automotive-23 amazon-baby amazon-baby-products-23 amazon-beauty
amazon-beauty-personal-care-23 amazon-books amazon-books-18 amazon-books-23 amazon-cds-vinyl
amazon-cds-vinyl-18 amazon-cds-vinyl-23 amazon-cell-phones-accessories amazon-cell-phones-accessories-18
amazon-cell-phones-accessories-23 amazon-clothing-shoes-jewelry amazon-clothing-shoes-jewelry-18
amazon-clothing-shoes-jewelry-23 amazon-digital-music amazon-digital-music-18 amazon-digital-music-23
amazon-electronics amazon-electronics-18 amazon-electronics-23 amazon-fashion-18 amazon-fashion-23
amazon-gift-cards-18 amazon-gift-cards-23 amazon-grocery-gourmet-food amazon-grocery-gourmet-food-18
amazon-grocery-gourmet-food-23 amazon-handmade-products-23 amazon-health-household-23
amazon-health-personal-care amazon-health-personal-care-23 amazon-home-kitchen amazon-home-kitchen-18
amazon-home-kitchen-23 amazon-industrial-scientific-18 amazon-industrial-scientific-23 amazon-instant-video
amazon-kindle-store amazon-kindle-store-18 amazon-kindle-store-23 amazon-luxury-beauty-18 amazon-m2
amazon-magazine-subscriptions-18 amazon-magazine-subscriptions-23 amazon-movies-tv amazon-movies-tv-18
amazon-movies-tv-23 amazon-musical-instruments amazon-musical-instruments-18 amazon-musical-instruments-23
amazon-office-products amazon-office-products-18 amazon-office-products-23 amazon-patio-lawn-garden
amazon-patio-lawn-garden-18 amazon-patio-lawn-garden-23 amazon-pet-supplies amazon-pet-supplies-18
amazon-pet-supplies-23 amazon-prime-pantry-18 amazon-software-18 amazon-software-23 amazon-sports-outdoors
amazon-sports-outdoors-18 amazon-sports-outdoors-23 amazon-subscription-boxes-23 amazon-tools-home-improvement
amazon-tools-home-improvement-18 amazon-tools-home-improvement-23 amazon-toys-games amazon-toys-games-18
amazon-toys-games-23 amazon-video-games amazon-video-games-18 amazon-video-games-23 anime avazu beeradvocate
behance book-crossing criteo dianping diginetica-merged diginetica-not-merged diginetica-session douban
endoMondo epinions food foursquare-nyc-merged foursquare-nyc-not-merged foursquare-tky-merged
foursquare-tky-not-merged goodreads gowalla-merged gowalla-not-merged ipinyou-click-merged
ipinyou-click-not-merged ipinyou-view-merged ipinyou-view-not-merged jester kdd2010-algebra2006-2007
kdd2010-algebra2008-2009 kdd2010-bridge-to-algebra2006-2007 kg_url kgrec-music kgrec-sound lastfm
lfm1b-albums-merged lfm1b-albums-not-merged lfm1b-artists-merged lfm1b-artists-not-merged lfm1b-tracks-merged
lfm1b-tracks-not-merged mind-large-dev mind-large-train mind-small-dev mind-small-train ml-100k ml-10m ml-1m
ml-20m modcloth music4all-onion netflix nowplaying-session phishing-website pinterest ratebeer renttherunway
retailrocket-addtocart-merged retailrocket-addtocart-not-merged retailrocket-transaction-merged
retailrocket-transaction-not-merged retailrocket-view-merged retailrocket-view-not-merged sample steam-merged
steam-not-merged ta-feng-merged ta-feng-not-merged tmall-buy-merged tmall-buy-not-merged tmall-click-merged
tmall-click-not-merged tmall-session twitch-100k twitch-full url yahoo-music yelp yelp-2018 yelp-2020
yelp-2021 yelp-2022 yelp-full yoochoose-buys-merged yoochoose-buys-not-merged yoochoose-clicks-merged
yoochoose-clicks-not-merged
""".split())
SUFFIX = "-timgen"  # appended to a reserved default name: unmistakably ours, and in no RecBole list


def is_reserved(name: str) -> bool:
    """Whether RecBole would substitute its own configuration or files for a dataset called ``name``."""
    return name in RESERVED
