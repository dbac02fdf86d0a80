"""Card numbers: 16 digits, the last a Luhn check digit, so a mistyped digit is caught at the till."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from members.identifiers import (
    card_number_generate,
    card_number_normalize,
    card_number_problem,
    luhn_check_digit,
    luhn_is_valid,
)

digits = st.text(alphabet="0123456789", min_size=1, max_size=30)


def with_check_digit(payload: str) -> str:
    return payload + luhn_check_digit(payload)


def test_the_textbook_vector_is_valid():
    assert luhn_is_valid("79927398713")
    assert luhn_check_digit("7992739871") == "3"


@pytest.mark.parametrize("number", ["79927398710", "79927398711", "79927398712", "79927398714", "79927398719"])
def test_the_textbook_vector_with_another_check_digit_is_invalid(number):
    assert not luhn_is_valid(number)


@pytest.mark.parametrize("number", ["4539578763621486", "4111111111111111", "5500005555555559", "0000000000000000"])
def test_known_valid_numbers_are_valid(number):
    assert luhn_is_valid(number)


@pytest.mark.parametrize("number", ["", "7", "7992739871a", "7992 7398 713", "-79927398713"])
def test_what_is_not_a_string_of_digits_is_invalid(number):
    assert not luhn_is_valid(number)


@given(digits)
def test_a_payload_with_its_check_digit_is_always_valid(payload):
    assert luhn_is_valid(with_check_digit(payload))


@given(digits, st.data())
def test_changing_any_single_digit_breaks_validity(payload, data):
    number = with_check_digit(payload)
    position = data.draw(st.integers(min_value=0, max_value=len(number) - 1), label="position")
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]), label="digit")

    mistyped = number[:position] + replacement + number[position + 1:]

    assert not luhn_is_valid(mistyped)


@given(digits, st.data())
def test_swapping_two_adjacent_digits_breaks_validity_unless_they_are_0_and_9(payload, data):
    number = with_check_digit(payload)
    swappable = [i for i in range(len(number) - 1)
                 if number[i] != number[i + 1] and {number[i], number[i + 1]} != {"0", "9"}]
    if not swappable:
        return
    i = data.draw(st.sampled_from(swappable), label="position")

    swapped = number[:i] + number[i + 1] + number[i] + number[i + 2:]

    assert not luhn_is_valid(swapped)


@given(digits)
def test_exactly_one_check_digit_makes_a_payload_valid(payload):
    valid = [d for d in "0123456789" if luhn_is_valid(payload + d)]

    assert valid == [luhn_check_digit(payload)]


def test_generated_card_numbers_are_16_valid_digits_starting_with_9():
    for _ in range(2000):
        number = card_number_generate()
        assert len(number) == 16 and number.isdigit()
        assert number[0] == "9"
        assert luhn_is_valid(number)
        assert card_number_problem(number) is None


@given(st.lists(st.sampled_from(["", " ", "-"]), min_size=16, max_size=16))
def test_a_card_number_typed_with_spaces_or_dashes_normalises_to_its_digits(separators):
    number = card_number_generate()
    typed = "".join(digit + sep for digit, sep in zip(number, separators, strict=True))

    assert card_number_normalize(typed) == number


@pytest.mark.parametrize("value", ["", "123", "1" * 15, "9" * 17, "9123abcd56781234"])
def test_a_value_of_the_wrong_shape_is_not_a_card_number(value):
    assert "16 digits" in card_number_problem(value)


def test_a_16_digit_number_with_a_wrong_check_digit_is_not_a_card_number():
    number = card_number_generate()
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)

    assert "check digit" in card_number_problem(wrong)
