"""The words and two-word phrases members use most, stop words (English and German) removed."""

from hypothesis import given
from hypothesis import strategies as st

from surveys.text import STOP_WORDS, frequent_terms, terms_of

ANSWERS = [
    "The queue was far too long.",
    "Long queue again, and the coffee was cold!",
    "Friendly staff, but the queue was long",
    "Die Schlange war zu lang. Der Kaffee war kalt.",
    "Kaffee kalt, Personal freundlich",
    "friendly staff",
]


def test_words_and_phrases_of_one_answer_without_stop_words():
    assert terms_of("The queue was far too long.") == {"queue", "far", "long"}
    assert terms_of("Die Schlange war zu lang.") == {"schlange", "lang"}
    assert terms_of("Friendly staff. Cold coffee") == {"friendly", "staff", "friendly staff", "cold", "coffee",
                                                       "cold coffee"}
    assert "staff cold" not in terms_of("Friendly staff. Cold coffee")  # no phrase across sentences
    assert terms_of("Kaffee kalt, Personal freundlich") == {"kaffee", "kalt", "personal", "freundlich",
                                                            "kaffee kalt", "kalt personal", "personal freundlich"}


def test_the_most_frequent_terms_with_examples():
    words, phrases = frequent_terms(ANSWERS)

    assert [(t.text, t.answers) for t in words] == [
        ("long", 3), ("queue", 3), ("friendly", 2), ("kaffee", 2), ("kalt", 2), ("staff", 2)]
    assert [(t.text, t.answers) for t in phrases] == [("friendly staff", 2)]
    queue = next(t for t in words if t.text == "queue")
    assert queue.examples == ("The queue was far too long.", "Long queue again, and the coffee was cold!")


def test_a_term_counts_once_per_answer_and_rare_terms_are_left_out():
    words, _ = frequent_terms(["queue queue queue", "queue", "parking"])
    assert [(t.text, t.answers) for t in words] == [("queue", 2)]


@given(st.lists(st.text(max_size=80), max_size=30))
def test_any_texts_give_ranked_terms_without_stop_words(texts):
    words, phrases = frequent_terms(texts, min_answers=1)
    for terms in (words, phrases):
        counts = [t.answers for t in terms]
        assert counts == sorted(counts, reverse=True)
        assert all(t.answers <= len(texts) for t in terms)
    assert not any(t.text in STOP_WORDS for t in words)
    assert all(t.is_phrase for t in phrases) and not any(t.is_phrase for t in words)


@given(st.lists(st.sampled_from(ANSWERS), max_size=20), st.randoms())
def test_the_order_of_the_answers_does_not_change_the_ranking(texts, random):
    shuffled = list(texts)
    random.shuffle(shuffled)
    assert [t.text for t in frequent_terms(texts)[0]] == [t.text for t in frequent_terms(shuffled)[0]]


def test_the_comments_of_one_score_group(db, program):
    from datetime import timedelta

    from django.utils import timezone

    from surveys.selectors import comment_terms
    from surveys.services import response_record, survey_create

    survey = survey_create(program=program, code="nps", kind="nps")
    for score, comment in [(2, ANSWERS[0]), (3, ANSWERS[1]), (1, ANSWERS[2]), (10, "Friendly staff, great coffee"),
                           (9, "friendly staff"), (5, "")]:
        response_record(survey=survey, score=score, channel="pos", actor="t", comment=comment)
    now = timezone.now()
    window = {"start_at": now - timedelta(hours=1), "end_at": now + timedelta(hours=1)}

    detractors, _ = comment_terms(survey=survey, low=0, high=6, **window)
    _, promoters_phrases = comment_terms(survey=survey, low=9, high=10, **window)

    assert [(t.text, t.answers) for t in detractors] == [("long", 3), ("queue", 3)]
    assert [(t.text, t.answers) for t in promoters_phrases] == [("friendly staff", 2)]
