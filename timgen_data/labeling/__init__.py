"""Labels per scenario (movie, ecommerce, video) after the paper's formulas."""

from timgen_data.labeling.run import LabelReport, label_store
from timgen_data.labeling.scenarios import SCENARIOS, compute_labels, ecommerce_labels, movie_labels, video_labels
from timgen_data.labeling.vocabulary import KNOWN_CLASSES, class_vocabulary
from timgen_data.labeling.weights import EcommerceWeights, ScoreWeights, VideoWeights, load_weights

__all__ = [
    "KNOWN_CLASSES", "SCENARIOS", "EcommerceWeights", "LabelReport", "ScoreWeights", "VideoWeights",
    "class_vocabulary", "compute_labels", "ecommerce_labels", "label_store", "load_weights", "movie_labels",
    "video_labels",
]
