"""A routing model learnt from past dispositions: complaint text → agency.

TF-IDF over words (1-2 grams) and character n-grams inside words (2-5, which
survive the misspellings and run-together words of real complaints), a
linear SVM, and a sigmoid calibration fitted on cross-validated scores so
that the confidence means something (issue 21: 0.6 confidence routes about
96 % of those cases right on real LAPOR! complaints).

scikit-learn fits the model. Predicting is done here with numpy from the
fitted numbers (vocabulary, idf, weights, calibration), so that a stored
model is plain arrays (``to_bytes`` / ``from_bytes``: an ``.npz`` loaded
with ``allow_pickle=False``, never a pickle), a prediction takes about a
millisecond, and each suggestion can name the words that drove it. A test
checks the two agree with scikit-learn's own ``predict_proba``.
"""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

# the vectorisers' settings; a stored model records them so that an older
# model keeps being read the way it was trained
WORD_PARAMS: dict[str, Any] = {
    "analyzer": "word",
    "ngram_range": (1, 2),
    "lowercase": True,
    "strip_accents": "unicode",
}
CHAR_PARAMS: dict[str, Any] = {
    "analyzer": "char_wb",
    "ngram_range": (2, 5),
    "lowercase": True,
    "strip_accents": "unicode",
}
SVM_C = 0.5  # chosen by cross-validation on the LAPOR! set (bench/routing.py)
CALIBRATION_FOLDS = 3
MIN_PER_AGENCY = CALIBRATION_FOLDS  # calibration needs one example per fold
FORMAT = 1

Floats = npt.NDArray[np.float64]


class TrainingError(ValueError):
    """The examples cannot make a model; the message says why, for staff."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An agency the model proposes, its confidence (0-1) and the words of
    the complaint that weighed most for it."""

    agency: str
    confidence: float
    words: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (stored with the case, shown in the dashboard)."""
        return {
            "agency": self.agency,
            "confidence": round(self.confidence, 4),
            "words": list(self.words),
        }


@dataclass(frozen=True, slots=True)
class _Block:
    """One vectoriser's fitted numbers: term → column, and the idf."""

    vocabulary: dict[str, int]
    idf: Floats
    params: dict[str, Any]
    offset: int  # where its columns start in the weight matrix


class RoutingModel:
    """A trained model; ``suggest`` ranks agencies for a complaint text."""

    def __init__(
        self,
        agencies: Sequence[str],
        blocks: Sequence[_Block],
        weights: Floats,
        intercept: Floats,
        calibration: Floats,
        *,
        examples: int,
    ) -> None:
        self.agencies = list(agencies)
        self.examples = examples
        self._blocks = list(blocks)
        self._weights = weights  # (classes or 1, features)
        self._intercept = intercept
        self._calibration = calibration  # (classes or 1, 2): sigmoid a, b
        self._analyzers = [_analyzer(b.params) for b in self._blocks]
        words = self._blocks[0]
        self._word_terms = _terms(words.vocabulary)

    @property
    def feature_count(self) -> int:
        """How many terms (words, phrases, character n-grams) the model knows."""
        return sum(len(block.vocabulary) for block in self._blocks)

    # -- training ----------------------------------------------------------

    @classmethod
    def train(cls, texts: Sequence[str], agencies: Sequence[str]) -> RoutingModel:
        """Fit a model on complaint texts and the agency each went to.

        Every agency needs at least ``MIN_PER_AGENCY`` examples and there
        must be two agencies at least; ``TrainingError`` says otherwise.
        """
        vectorisers, calibrated = fit(texts, agencies)
        return cls.from_fitted(vectorisers, calibrated, examples=len(texts))

    @classmethod
    def from_fitted(
        cls, vectorisers: Sequence[Any], calibrated: Any, *, examples: int
    ) -> RoutingModel:
        """The numbers of scikit-learn objects made by :func:`fit`."""
        fitted = calibrated.calibrated_classifiers_[0]
        svm = fitted.estimator
        blocks, offset = [], 0
        for vectoriser, params in zip(
            vectorisers, (WORD_PARAMS, CHAR_PARAMS), strict=True
        ):
            vocabulary = {t: int(i) for t, i in vectoriser.vocabulary_.items()}
            blocks.append(
                _Block(vocabulary, np.asarray(vectoriser.idf_), dict(params), offset)
            )
            offset += len(vocabulary)
        calibration = np.array([[c.a_, c.b_] for c in fitted.calibrators])
        return cls(
            [str(c) for c in calibrated.classes_],
            blocks,
            np.asarray(svm.coef_, dtype=np.float64),
            np.asarray(svm.intercept_, dtype=np.float64),
            calibration,
            examples=examples,
        )

    # -- predicting ----------------------------------------------------------

    def features(self, text: str) -> tuple[npt.NDArray[np.int64], Floats]:
        """The TF-IDF vector of ``text`` as (columns, values): sublinear term
        frequency times idf, each vectoriser's part scaled to unit length, as
        scikit-learn's ``TfidfVectorizer`` computes it."""
        columns: list[int] = []
        values: list[float] = []
        for block, analyze in zip(self._blocks, self._analyzers, strict=True):
            counts = Counter(analyze(text))
            part = [
                (block.vocabulary[t], n)
                for t, n in counts.items()
                if t in block.vocabulary
            ]
            if not part:
                continue
            index = np.fromiter((c for c, _ in part), dtype=np.int64, count=len(part))
            tf = np.fromiter((n for _, n in part), dtype=np.float64, count=len(part))
            weight = (np.log(tf) + 1.0) * block.idf[index]
            weight /= math.sqrt(float(weight @ weight))
            columns.extend((index + block.offset).tolist())
            values.extend(weight.tolist())
        return np.asarray(columns, dtype=np.int64), np.asarray(values)

    def probabilities(self, text: str) -> Floats:
        """The calibrated probability of each agency (in ``agencies`` order)."""
        return self._probabilities(*self.features(text))

    def _probabilities(self, columns: npt.NDArray[np.int64], values: Floats) -> Floats:
        scores = self._weights[:, columns] @ values + self._intercept
        a, b = self._calibration[:, 0], self._calibration[:, 1]
        positive = 1.0 / (1.0 + np.exp(a * scores + b))
        if len(self.agencies) == 2:
            return np.array([1.0 - positive[0], positive[0]])
        total = positive.sum()
        if total <= 0:
            return np.full(len(self.agencies), 1.0 / len(self.agencies))
        return np.asarray(positive / total)

    def suggest(self, text: str, n: int = 3, words: int = 5) -> list[Suggestion]:
        """The ``n`` likeliest agencies, best first, each with the ``words``
        complaint words (or phrases) that pushed most towards it."""
        columns, values = self.features(text)
        probabilities = self._probabilities(columns, values)
        order = np.argsort(-probabilities, kind="stable")[:n]
        word_end = len(self._blocks[0].vocabulary)
        is_word = columns < word_end
        word_columns, word_values = columns[is_word], values[is_word]
        out = []
        for k in order:
            row = self._class_weights(int(k))[word_columns] * word_values
            top = [
                self._word_terms[int(word_columns[i])]
                for i in np.argsort(-row, kind="stable")[:words]
                if row[i] > 0
            ]
            out.append(
                Suggestion(self.agencies[int(k)], float(probabilities[k]), tuple(top))
            )
        return out

    def _class_weights(self, k: int) -> Floats:
        row: Floats = self._weights[0 if len(self.agencies) == 2 else k]
        if len(self.agencies) == 2 and k == 0:
            return -row  # one weight row: positive means agencies[1]
        return row

    # -- storing -------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The model as a compressed ``.npz`` of plain arrays (no pickle)."""
        header = {
            "format": FORMAT,
            "agencies": self.agencies,
            "examples": self.examples,
            "blocks": [
                {"params": _jsonable(b.params), "offset": b.offset}
                for b in self._blocks
            ],
        }
        arrays: dict[str, Any] = {
            "header": np.array(json.dumps(header)),
            "weights": self._weights,
            "intercept": self._intercept,
            "calibration": self._calibration,
        }
        for i, block in enumerate(self._blocks):
            arrays[f"terms{i}"] = np.array(_terms(block.vocabulary), dtype=np.str_)
            arrays[f"idf{i}"] = block.idf
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> RoutingModel:
        """Read a model written by ``to_bytes``; ``ValueError`` if it is not one."""
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            header = json.loads(str(stored["header"]))
            if header.get("format") != FORMAT:
                raise ValueError(f"unknown routing model format {header.get('format')}")
            blocks = []
            for i, spec in enumerate(header["blocks"]):
                terms = stored[f"terms{i}"].tolist()
                params = dict(spec["params"])
                params["ngram_range"] = tuple(params["ngram_range"])
                blocks.append(
                    _Block(
                        {t: j for j, t in enumerate(terms)},
                        np.asarray(stored[f"idf{i}"], dtype=np.float64),
                        params,
                        int(spec["offset"]),
                    )
                )
            return cls(
                header["agencies"],
                blocks,
                np.asarray(stored["weights"], dtype=np.float64),
                np.asarray(stored["intercept"], dtype=np.float64),
                np.asarray(stored["calibration"], dtype=np.float64),
                examples=int(header["examples"]),
            )


def fit(texts: Sequence[str], agencies: Sequence[str]) -> tuple[list[Any], Any]:
    """The fitted word and character vectorisers and the calibrated SVM
    (``TrainingError`` when the examples cannot make a model)."""
    from scipy.sparse import hstack
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    if len(texts) != len(agencies):
        raise TrainingError("texts and agencies differ in length")
    counts = Counter(agencies)
    if len(counts) < 2:
        raise TrainingError(
            f"need examples of two agencies at least (have {len(counts)})"
        )
    scarce = sorted(a for a, n in counts.items() if n < MIN_PER_AGENCY)
    if scarce:
        raise TrainingError(
            f"each agency needs {MIN_PER_AGENCY} examples at least; too few "
            "for " + ", ".join(f"{a} ({counts[a]})" for a in scarce)
        )
    vectorisers = [
        TfidfVectorizer(sublinear_tf=True, dtype=np.float64, **WORD_PARAMS),
        TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float64, **CHAR_PARAMS),
    ]
    matrix = hstack([v.fit_transform(texts) for v in vectorisers]).tocsr()
    # random_state: the same examples give the same model
    calibrated = CalibratedClassifierCV(
        LinearSVC(C=SVM_C, random_state=0), cv=CALIBRATION_FOLDS, ensemble=False
    ).fit(matrix, np.asarray(agencies))
    return vectorisers, calibrated


def _analyzer(params: dict[str, Any]) -> Callable[[str], list[str]]:
    """scikit-learn's own tokeniser for these settings (it needs no fitting),
    so prediction splits text exactly as training did."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyze: Callable[[str], list[str]] = TfidfVectorizer(**params).build_analyzer()
    return analyze


def _terms(vocabulary: dict[str, int]) -> list[str]:
    terms = [""] * len(vocabulary)
    for term, column in vocabulary.items():
        terms[column] = term
    return terms


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
