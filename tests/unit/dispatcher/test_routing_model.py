"""The routing model on real LAPOR! complaints: training, prediction, the
words behind a suggestion, storing without pickle; and reading labelled CSVs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import hstack

from dispatcher.routing_examples import ExamplesError, read_examples
from dispatcher.routing_model import RoutingModel, TrainingError, fit

FIXTURE = Path(__file__).parents[2] / "fixtures" / "routing" / "lapor-2017.csv"
AGENCIES = {
    "DINKES",
    "PUPR",
    "DISHUB",
    "DISDUKCAPIL",
    "DINSOS",
    "DISDIK",
    "DLH",
    "PDAM",
}


def examples() -> tuple[list[str], list[str]]:
    return read_examples(FIXTURE, AGENCIES | {"DISKOMINFO"})


@pytest.fixture(scope="module")
def split() -> tuple[RoutingModel, list[str], list[str]]:
    texts, agencies = examples()
    # every third complaint is kept away from training
    train = [i for i in range(len(texts)) if i % 3]
    held = [i for i in range(len(texts)) if not i % 3]
    model = RoutingModel.train([texts[i] for i in train], [agencies[i] for i in train])
    return model, [texts[i] for i in held], [agencies[i] for i in held]


def test_routes_unseen_real_complaints_to_their_agency(split) -> None:
    model, texts, agencies = split
    top = [model.suggest(t)[0].agency for t in texts]
    right = sum(p == a for p, a in zip(top, agencies, strict=True)) / len(texts)
    assert right >= 0.8  # about 0.88 at cross-validation (bench/routing.py)


def test_confident_suggestions_are_mostly_right(split) -> None:
    model, texts, agencies = split
    sure = [(model.suggest(t)[0], a) for t, a in zip(texts, agencies, strict=True)]
    sure = [(s, a) for s, a in sure if s.confidence >= 0.6]
    assert len(sure) >= len(texts) * 0.6
    assert sum(s.agency == a for s, a in sure) / len(sure) >= 0.9


def test_three_suggestions_with_the_words_of_the_complaint(split) -> None:
    model, _, _ = split
    text = "Kartu BPJS Kesehatan saya tidak bisa dipakai berobat di puskesmas"
    suggestions = model.suggest(text)
    assert len(suggestions) == 3
    assert suggestions[0].agency == "DINKES"
    confidences = [s.confidence for s in suggestions]
    assert confidences == sorted(confidences, reverse=True)
    assert 0 < sum(confidences) <= 1.0 + 1e-9
    assert suggestions[0].words
    for word in suggestions[0].words:
        assert word in text.lower()


def test_prediction_equals_scikit_learns() -> None:
    texts, agencies = examples()
    vectorisers, calibrated = fit(texts[:200], agencies[:200])
    model = RoutingModel.from_fitted(vectorisers, calibrated, examples=200)
    unseen = [*texts[200:260], "", "zzzz qqqq"]  # also text with no known term
    matrix = hstack([v.transform(unseen) for v in vectorisers]).tocsr()
    expected = calibrated.predict_proba(matrix)
    ours = np.array([model.probabilities(t) for t in unseen])
    assert list(calibrated.classes_) == model.agencies
    np.testing.assert_allclose(ours, expected, atol=1e-9)


def test_two_agencies_make_a_model_too() -> None:
    texts = ["jalan berlubang besar", "aspal jalan rusak", "jembatan jalan putus"]
    texts += ["ktp belum jadi", "akta kelahiran hilang", "kartu keluarga salah"]
    model = RoutingModel.train(texts, ["PUPR"] * 3 + ["DISDUKCAPIL"] * 3)
    best = model.suggest("jalan di desa berlubang")[0]
    assert best.agency == "PUPR"
    assert "jalan" in best.words
    assert len(model.suggest("ktp")) == 2


def test_stored_model_reads_back_identically_without_pickle(split) -> None:
    model, texts, _ = split
    again = RoutingModel.from_bytes(model.to_bytes())
    for text in texts[:20]:
        assert again.suggest(text) == model.suggest(text)
    # an object array would need pickle: refused, never executed
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array([{"format": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        RoutingModel.from_bytes(buffer.getvalue())


def test_too_few_examples_are_refused_with_the_agencies_named() -> None:
    with pytest.raises(TrainingError, match="two agencies"):
        RoutingModel.train(["a b", "c d", "e f"], ["PUPR"] * 3)
    with pytest.raises(TrainingError, match=r"DLH \(1\)"):
        RoutingModel.train(["a", "b", "c", "d"], ["PUPR"] * 3 + ["DLH"])


def write(tmp_path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    path = tmp_path / "routing.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_unknown_agencies_are_listed_with_their_rows(tmp_path: Path) -> None:
    rows = [
        {"text": "jalan rusak", "agency": "PUPR"},
        {"text": "banjir\ndi desa", "agency": "BPBD"},  # two lines in one cell
        {"text": "ktp", "agency": "DISDUKCAPL"},
        {"text": "longsor", "agency": "BPBD"},
        {"text": "  ", "agency": "PUPR"},
    ]
    with pytest.raises(ExamplesError) as caught:
        read_examples(
            write(tmp_path, rows, ["text", "agency"]), {"PUPR", "DISDUKCAPIL"}
        )
    message = str(caught.value)
    assert "3 problem(s)" in message
    assert "unknown agency 'BPBD' in rows 3, 5" in message
    assert "unknown agency 'DISDUKCAPL' in row 4" in message
    assert "did you mean DISDUKCAPIL?" in message
    assert "no text in row 6" in message


def test_csv_title_is_optional_and_read_before_the_text(tmp_path: Path) -> None:
    rows = [
        {"title": "Jalan rusak", "text": "Mohon diperbaiki", "agency": "pupr"},
        {"title": "", "text": "KTP belum jadi", "agency": "DISDUKCAPIL"},
    ]
    path = write(tmp_path, rows, ["title", "text", "agency"])
    texts, agencies = read_examples(path, {"PUPR", "DISDUKCAPIL"})
    assert texts == ["Jalan rusak\nMohon diperbaiki", "KTP belum jadi"]
    assert agencies == ["PUPR", "DISDUKCAPIL"]


def test_csv_without_an_agency_column_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, [{"text": "x", "label": "PUPR"}], ["text", "label"])
    with pytest.raises(ExamplesError, match=r"missing column.*agency"):
        read_examples(path, {"PUPR"})
