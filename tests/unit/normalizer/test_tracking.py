"""Tracking numbers citizens can type back."""

from __future__ import annotations

from contracts.tracking import (
    ALPHABET,
    canonical,
    find_tracking_numbers,
    new_tracking_no,
)


def test_format_and_alphabet() -> None:
    number = new_tracking_no("KTB")
    prefix, first, second = number.split("-")
    assert prefix == "KTB"
    assert len(first) == len(second) == 4
    assert set(first + second) <= set(ALPHABET)


def test_numbers_are_random_not_sequential() -> None:
    numbers = {new_tracking_no("ADU") for _ in range(2000)}
    assert len(numbers) == 2000


def test_typed_back_with_typos_case_and_no_hyphen() -> None:
    assert canonical("ktb-7k3m-9q2d", "KTB") == "KTB-7K3M-9Q2D"
    assert canonical("KTB7K3M9Q2D", "KTB") == "KTB-7K3M-9Q2D"
    # O for zero, I and L for one: Crockford base32 reads them the same
    assert canonical("KTB-OOIL-1234", "KTB") == "KTB-0011-1234"


def test_other_prefixes_and_garbage_are_not_ours() -> None:
    assert canonical("ADU-7K3M-9Q2D", "KTB") is None
    assert canonical("KTB-7K3M-9Q2U", "KTB") is None  # U is not in the alphabet
    assert canonical("hello", "KTB") is None


def test_found_in_a_reply_subject() -> None:
    subject = "Re: [KTB-7K3M-9Q2D] Pengaduan Anda telah kami terima"
    assert find_tracking_numbers(subject, "KTB") == ["KTB-7K3M-9Q2D"]
