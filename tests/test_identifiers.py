"""GB 11643 resident IDs, GB 32100 credit codes, passports and keyed pseudonyms."""

import os
import stat

import pytest

from exchange.core.identifiers import (
    Pseudonymizer,
    check_id,
    load_pseudonymizer,
    normalise,
    resident_id_check_char,
)


def test_standard_example_resident_id_is_valid():
    assert check_id("RESIDENT_ID", "11010519491231002X") is None


def test_lower_case_x_is_normalised_to_upper_case():
    assert normalise("RESIDENT_ID", "11010519491231002x") == "11010519491231002X"
    assert check_id("RESIDENT_ID", normalise("RESIDENT_ID", "11010519491231002x")) is None


@pytest.mark.parametrize("wrong", ["110105194912310021", "110105194912310022", "11010519491231002Y"[:17] + "0"])
def test_wrong_check_character_is_a_checksum_error(wrong):
    assert check_id("RESIDENT_ID", wrong) == "R_ID_CHECKSUM"


@pytest.mark.parametrize("bad", ["1101051949123100", "11010519491331002X", "11010519490230002X", "A1010519491231002X",
                                 "00010519491231002X"])
def test_impossible_resident_ids_are_format_errors(bad):
    assert check_id("RESIDENT_ID", bad) == "R_ID_FORMAT"


def test_check_character_follows_the_weights():
    assert resident_id_check_char("11010519491231002") == "X"


def test_standard_example_uscc_is_valid():
    assert check_id("USCC", "91350100M000100Y43") is None


def test_uscc_with_wrong_check_character():
    assert check_id("USCC", "91350100M000100Y44") == "R_ID_CHECKSUM"


@pytest.mark.parametrize("bad", ["91350100M000100Y4", "91350100I000100Y43", "91350100O000100Y43", "91350100S000100Y43"])
def test_uscc_outside_alphabet_or_length_is_a_format_error(bad):
    assert check_id("USCC", bad) == "R_ID_FORMAT"


def test_passport_is_upper_cased_without_spaces():
    assert normalise("PASSPORT", " e 1234 5678 ") == "E12345678"
    assert check_id("PASSPORT", "E12345678") is None
    assert check_id("PASSPORT", "E1") == "R_ID_FORMAT"


def test_borrower_key_is_stable_and_depends_on_type_and_secret():
    a, b = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
    key = a.borrower_key("RESIDENT_ID", "11010519491231002X")
    assert key == a.borrower_key("RESIDENT_ID", "11010519491231002X")
    assert len(key) == 64 and int(key, 16) >= 0
    assert key != a.borrower_key("PASSPORT", "11010519491231002X")
    assert key != b.borrower_key("RESIDENT_ID", "11010519491231002X")
    assert "11010519491231002X" not in key


def test_generated_secret_is_created_once_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv("EXCHANGE_PSEUDONYM_KEY", raising=False)
    first = load_pseudonymizer(tmp_path).borrower_key("USCC", "91350100M000100Y43")
    mode = stat.S_IMODE(os.stat(tmp_path / "pseudonym.key").st_mode)
    assert mode == 0o600
    assert load_pseudonymizer(tmp_path).borrower_key("USCC", "91350100M000100Y43") == first


def test_short_secret_is_refused():
    with pytest.raises(Exception, match="C_SECRET"):
        Pseudonymizer(b"short")
