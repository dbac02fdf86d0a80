"""Card numbers, referral codes and phone numbers: how members are named at the till."""

import secrets

import phonenumbers

CARD_NUMBER_LENGTH = 16
REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by people
REFERRAL_LENGTH = 8


def luhn_check_digit(payload: str) -> str:
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char)
        if index % 2 == 0:  # doubled positions, counted from the digit left of the check digit
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def luhn_is_valid(number: str) -> bool:
    return len(number) >= 2 and number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def card_number_generate() -> str:
    # A leading 9 keeps numbers visually distinct from payment cards (which never start with 9
    # in practice) and avoids a leading zero being dropped by spreadsheets.
    payload = "9" + "".join(str(secrets.randbelow(10)) for _ in range(CARD_NUMBER_LENGTH - 2))
    return payload + luhn_check_digit(payload)


def card_number_normalize(value: str) -> str:
    """Card numbers may be typed with spaces or dashes; they are stored as 16 digits."""
    return "".join(ch for ch in value if ch not in " -")


def card_number_problem(value: str) -> str | None:
    """Why ``value`` (already normalised) is not a card number, or None."""
    if len(value) != CARD_NUMBER_LENGTH or not value.isdigit():
        return f"A card number has exactly {CARD_NUMBER_LENGTH} digits."
    if not luhn_is_valid(value):
        return "This card number's check digit is wrong; check for a typing mistake."
    return None


def referral_code_generate() -> str:
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(REFERRAL_LENGTH))


def phone_to_e164(value: str, default_region: str = "") -> str | None:
    """The E.164 form of ``value``, or None when it cannot be a phone number."""
    try:
        parsed = phonenumbers.parse(value, default_region or None)
    except phonenumbers.NumberParseException:
        return None
    # Strictly "possible" (not merely dialable locally); validity is not required
    # because number plans change faster than the metadata and test ranges exist.
    if phonenumbers.is_possible_number_with_reason(parsed) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
