"""What members talk about: the most frequent words and two-word phrases of free-text answers, English and
German stop words removed. Pure functions of the texts (no database), so a staff page, an export and a test
count alike.

A term counts once per answer that uses it (how many answers mention "queue", not how often one angry answer
repeats it). A phrase is two neighbouring words of one sentence, neither a stop word. Words are compared
case-insensitively; umlauts and ß are kept as written (casefold would make "Straße" "strasse").
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

_ENGLISH = """
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off
on once only or other our ours ourselves out over own same she should so some such than that the their theirs
them themselves then there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yours yourself yourselves im ive dont didnt doesnt isnt wasnt
cant couldnt wont really get got one much many make made lot bit still even well
"""

_GERMAN = """
aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes anderm andern
anders auch auf aus bei beim bin bis bist da damit dann das dass daß dein deine deinem deinen deiner dem den
denn der des dessen die dies diese diesem diesen dieser dieses doch dort du durch ein eine einem einen einer
eines einig einige einigem einigen einiger einiges einmal er es etwas euch euer eure für gegen gewesen hab habe
haben hat hatte hatten hier hin hinter ich ihm ihn ihnen ihr ihre ihrem ihren ihrer ihres im in indem ins ist
jede jedem jeden jeder jedes jene jenem jenen jener jenes jetzt kann kein keine keinem keinen keiner keines
können könnte machen man manche manchem manchen mancher manches mein meine meinem meinen meiner meines mich mir
mit muss musste nach nicht nichts noch nun nur ob oder ohne sehr sein seine seinem seinen seiner seines selbst
sich sie sind so solche solchem solchen solcher solches soll sollte sondern sonst über um und uns unser unsere
unter viel vom von vor war waren warst was weg weil weiter welche welchem welchen welcher welches wenn werde
werden wie wieder will wir wird wirst wo wollen wollte würde würden zu zum zur zwar zwischen immer ganz schon
mal gibt gab gut
"""

STOP_WORDS_EN = frozenset(_ENGLISH.split())
STOP_WORDS_DE = frozenset(_GERMAN.split())
STOP_WORDS = STOP_WORDS_EN | STOP_WORDS_DE
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
SENTENCE_BREAK = re.compile(r"[.!?;:\n]+")
MIN_WORD_LENGTH = 2


def _words(sentence: str) -> list[str]:
    return [word.lower().replace("’", "").replace("'", "") for word in WORD.findall(sentence)]


def terms_of(text: str) -> set[str]:
    """The words and two-word phrases of one answer, each once."""
    found: set[str] = set()
    for sentence in SENTENCE_BREAK.split(text or ""):
        words = _words(sentence)
        kept = [w if (len(w) >= MIN_WORD_LENGTH and w not in STOP_WORDS) else None for w in words]
        found.update(w for w in kept if w)
        found.update(f"{a} {b}" for a, b in itertools.pairwise(kept) if a and b)
    return found


@dataclass(frozen=True)
class Term:
    text: str
    answers: int  # how many answers use it
    examples: tuple[str, ...] = field(default=())

    @property
    def is_phrase(self) -> bool:
        return " " in self.text


def frequent_terms(texts: Iterable[str], *, limit: int = 10, examples: int = 2, min_answers: int = 2
                   ) -> tuple[list[Term], list[Term]]:
    """The ``limit`` most frequent words and the ``limit`` most frequent phrases of ``texts``, each with up to
    ``examples`` answers that use it; a term used by fewer than ``min_answers`` answers is left out. Ties are
    broken alphabetically, so the answer does not depend on the order of the texts."""
    counts: Counter[str] = Counter()
    uses: dict[str, list[str]] = {}
    for text in texts:
        text = (text or "").strip()
        if not text:
            continue
        for term in terms_of(text):
            counts[term] += 1
            shown = uses.setdefault(term, [])
            if len(shown) < examples:
                shown.append(text)
    ranked = sorted((item for item in counts.items() if item[1] >= min_answers), key=lambda item: (-item[1], item[0]))
    words = [Term(t, n, tuple(uses[t])) for t, n in ranked if " " not in t][:limit]
    phrases = [Term(t, n, tuple(uses[t])) for t, n in ranked if " " in t][:limit]
    return words, phrases
