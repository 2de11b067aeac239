"""Facts a prompt states that an answer field can repeat: numbers and ranges near a word, currency, language,
labelled values ("Location: Berlin"), lists ("Skills: Python, SQL"), places ("in Berlin").

Like prompt_signals, nothing here pretends to be a model: it lets an offline answer to "salary_min, salary_max,
currency" over "70,000 - 90,000 EUR" say 70000, 90000, "EUR" instead of random numbers and keywords, so prompts and
marts can be sanity-checked before paying. Everything is a pure function of the text (reproducible); the caller
keeps each value valid for its schema.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

# A number as people write it: 70,000 / 4.5 / 70k / -3 (a minus only after a space or the start: "40000-50000" is a
# range). Dots group thousands ("45.000") only in a text not in English (see mentions).
_NUMBER = re.compile(
    r"-?(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?:\.\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:\s?[kK](?![A-Za-z]))?"
)
_DASHES = "-\u2013\u2014"  # hyphen, en dash, em dash
_RANGE_JOIN = re.compile(
    rf"\s*(?:[{_DASHES}]|to|and|bis|à|a|au|hasta|até|~)\s*(?:[$€£¥₹]|usd|eur|gbp)?\s*$", re.IGNORECASE
)
_CURRENCY_CODES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "INR", "CNY", "SEK", "NOK", "DKK", "PLN", "BRL",
                   "MXN", "ZAR", "SGD", "HKD", "NZD", "KRW")  # fmt: skip
_CURRENCY_SYMBOLS = {"€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "$": "USD"}
_CURRENCY_WORDS = {"euro": "EUR", "euros": "EUR", "dollar": "USD", "dollars": "USD", "pound": "GBP", "pounds": "GBP",
                   "yen": "JPY", "rupees": "INR", "franc": "CHF", "francs": "CHF"}  # fmt: skip
# Frequent short words per language: enough to tell the languages a shop or a job board mostly sees.
_LANGUAGE_WORDS = {
    "en": {"the", "and", "is", "are", "with", "for", "this", "was", "not", "you", "we", "of", "to", "in"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "mit", "für", "wir", "ein", "eine", "sie", "ich", "auf"},
    "fr": {"le", "la", "les", "et", "est", "pas", "avec", "pour", "nous", "une", "des", "du", "je", "très"},
    "es": {"el", "la", "los", "las", "y", "es", "no", "con", "para", "una", "muy", "por", "que", "del"},
    "it": {"il", "lo", "la", "gli", "e", "è", "non", "con", "per", "una", "molto", "che", "del", "sono"},
    "pt": {"o", "os", "as", "e", "é", "não", "com", "para", "uma", "muito", "que", "do", "da", "em"},
    "nl": {"de", "het", "een", "en", "is", "niet", "met", "voor", "wij", "zeer", "van", "ik", "op", "zijn"},
}
# Other words that name the same quantity, so "salary_min" finds "pay 20/h" and "years_experience" finds "5 yrs".
_SYNONYMS = {
    "salary": ("pay", "wage", "compensation", "income", "gehalt", "salaire", "salario", "sueldo"),
    "pay": ("salary", "wage", "compensation"),
    "wage": ("salary", "pay"),
    "price": ("cost", "priced", "fee", "costs"),
    "cost": ("price", "fee", "costs"),
    "experience": ("years", "yrs"),
    "years": ("experience", "yrs", "year"),
    "age": ("aged", "old"),
    "quantity": ("qty", "pieces", "units", "items"),
    "rating": ("rated", "stars", "star"),
    "stars": ("star", "rating", "rated"),
}
LOW_MARKERS = frozenset({"min", "minimum", "low", "lower", "from", "start", "floor", "least", "lo"})
HIGH_MARKERS = frozenset({"max", "maximum", "high", "upper", "to", "end", "ceiling", "most", "hi"})
_MONEY_WORDS = frozenset({"salary", "pay", "wage", "price", "cost", "amount", "fee", "budget", "rate", "compensation",
                          "income", "revenue", "total", "spend", "spent"})  # fmt: skip
# How far (characters) a number may follow or precede the word it belongs to: "salary 70,000", "5 years".
_AFTER, _BEFORE = 60, 25


@dataclass(frozen=True)
class Mention:
    """A number or a range ("70,000 - 90,000": low 70000, high 90000) and where the text says it."""

    low: float
    high: float
    start: int
    end: int
    integer: bool

    @property
    def is_range(self) -> bool:
        return self.high != self.low


def name_words(name: str) -> list[str]:
    """salary_min -> [salary, min]; yearsOfExperience -> [years, of, experience]."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def _number_value(token: str, dot_thousands: bool) -> tuple[float, bool, bool]:
    """(value, integer, had a k suffix)"""
    text = token.replace(",", "").strip()
    if dot_thousands and re.fullmatch(r"-?\d{1,3}(?:\.\d{3})+(?:\s?[kK])?", text):
        text = text.replace(".", "")
    kilo = text[-1:] in ("k", "K")
    if kilo:
        text = text[:-1].strip()
    value = float(text)
    integer = "." not in text
    if kilo:
        value *= 1000
        integer = value.is_integer()
    return value, integer, kilo


@lru_cache(maxsize=256)
def mentions(text: str) -> tuple[Mention, ...]:
    """Every number in the text in order, a range ("70-90k", "40000 to 50000") as one mention."""
    # "45.000 €": most languages other than English group thousands with dots (a schema's bounds catch a misreading)
    dot_thousands = language(text) not in (None, "en")
    found = []
    for match in _NUMBER.finditer(text):
        start, token = match.start(), match.group()
        if token.startswith("-") and start > 0 and not (text[start - 1].isspace() or text[start - 1] in "(["):
            start, token = start + 1, token[1:]  # "40000-50000": a range, not minus 50000
        found.append((start, match.end(), *_number_value(token, dot_thousands)))
    out: list[Mention] = []
    i = 0
    while i < len(found):
        start, end, value, integer, kilo = found[i]
        if i + 1 < len(found):
            n_start, n_end, n_value, n_integer, n_kilo = found[i + 1]
            if _RANGE_JOIN.match(text[end:n_start]) and n_start - end <= 12:
                if n_kilo and not kilo and value * 1000 <= n_value:
                    value *= 1000
                if value <= n_value:
                    out.append(Mention(value, n_value, start, n_end, integer and n_integer))
                    i += 2
                    continue
        out.append(Mention(value, value, start, end, integer))
        i += 1
    return tuple(out)


def _word_pattern(word: str) -> str:
    # a long word matches its inflections (salary/salaries/salario); a short one only itself (age, not agent)
    if len(word) > 5:
        return rf"\b{re.escape(word[: max(4, len(word) - 2)])}\w*"
    return rf"\b{re.escape(word)}\b"


@lru_cache(maxsize=1024)
def _word_spans(text: str, words: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    if not words:
        return ()
    pattern = re.compile("|".join(_word_pattern(w) for w in words), re.IGNORECASE)
    return tuple((m.start(), m.end()) for m in pattern.finditer(text))


def topic_words(name: str) -> tuple[str, ...]:
    """The words of a field's name that say what it is about (not min/max), with their synonyms."""
    words = [w for w in name_words(name) if w not in LOW_MARKERS | HIGH_MARKERS and len(w) >= 3 and not w.isdigit()]
    expanded = list(words)
    for word in words:
        expanded += [s for s in _SYNONYMS.get(word, ()) if s not in expanded]
    return tuple(expanded)


def side(name: str) -> str | None:
    """'low' for salary_min / min_price, 'high' for salary_max / upper_bound, else None."""
    words = set(name_words(name))
    if words & LOW_MARKERS:
        return "low"
    if words & HIGH_MARKERS:
        return "high"
    return None


def numbers_near(text: str, name: str) -> list[Mention]:
    """The mentions that belong to the field `name`, nearest first: a number within a few words after (or just
    before) a word of its name or a synonym, or for an amount of money (salary, price, ...) next to a currency
    ("12 EUR per hour"). None when the text never names what the field is about."""
    topic = topic_words(name)
    spans = list(_word_spans(text, topic))
    if set(topic) & _MONEY_WORDS:
        spans += _currency_spans(text)
    if not spans:
        return []
    ends = sorted(end for _, end in spans)
    starts = sorted(start for start, _ in spans)
    scored: list[tuple[int, int, Mention]] = []
    for index, mention in enumerate(mentions(text)):
        distances = []
        before = bisect.bisect_right(ends, mention.start) - 1  # the nearest word ending before the number
        if before >= 0 and mention.start - ends[before] <= _AFTER:
            distances.append(mention.start - ends[before])
        after = bisect.bisect_left(starts, mention.end)  # the nearest word starting after it
        if after < len(starts) and starts[after] - mention.end <= _BEFORE:
            distances.append(starts[after] - mention.end)
        if distances:
            scored.append((min(distances), index, mention))
    return [m for _, _, m in sorted(scored, key=lambda s: (s[0], s[1]))]


def range_hint(text: str, name: str) -> tuple[float, float] | None:
    """Bounds a text gives for a field: "score from 1 to 5", "rating (1-5)", a description "1-5"."""
    near = [m for m in numbers_near(text, name) if m.is_range]
    if near:
        return near[0].low, near[0].high
    return None


@lru_cache(maxsize=256)
def _currency_spans(text: str) -> tuple[tuple[int, int], ...]:
    codes = "|".join(_CURRENCY_CODES + tuple(_CURRENCY_WORDS))
    pattern = re.compile(rf"\b(?:{codes})\b|[€£¥₹$]", re.IGNORECASE)
    return tuple((m.start(), m.end()) for m in pattern.finditer(text))


def currency(text: str) -> str | None:
    """The currency a text names first: an ISO code (EUR), a symbol (€) or a word (euros)."""
    found: list[tuple[int, str]] = []
    codes = re.search(r"\b(" + "|".join(_CURRENCY_CODES) + r")\b", text, re.IGNORECASE)
    if codes:
        found.append((codes.start(), codes.group(1).upper()))
    found += [(text.find(symbol), code) for symbol, code in _CURRENCY_SYMBOLS.items() if symbol in text]
    words = re.search(r"\b(" + "|".join(_CURRENCY_WORDS) + r")\b", text, re.IGNORECASE)
    if words:
        found.append((words.start(), _CURRENCY_WORDS[words.group(1).lower()]))
    return min(found)[1] if found else None


def language(text: str) -> str | None:
    """ISO 639-1 code of the text's language when its frequent words say so clearly, else None."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    if not words:
        return None
    scores = {code: sum(w in common for w in words) for code, common in _LANGUAGE_WORDS.items()}
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (code, top), (_, second) = ranked[0], ranked[1]
    return code if top >= 2 and top > second else None


def labelled(text: str, name: str) -> str | None:
    """The value after "<name>:" ("Location: Berlin", "Job title: Barista"), up to the end of its line or sentence."""
    words = [w for w in name_words(name) if len(w) >= 3]
    for count in range(len(words), 0, -1):
        for first in range(len(words) - count + 1):
            label = r"[\s_-]+".join(re.escape(w) for w in words[first : first + count])
            match = re.search(rf"(?:^|\n|[.;]\s*)\W*{label}s?\s*[:=]\s*([^\n;]+)", text, re.IGNORECASE)
            if match:
                value = re.split(r"(?<=[^\s.]{2})\.(?:\s|$)", match.group(1), maxsplit=1)[0].strip(" .\"'")
                if value:
                    return value
    return None


def listed(text: str, name: str) -> list[str]:
    """The items of "<name>: a, b and c" (a labelled list), in order, without duplicates."""
    value = labelled(text, name)
    if not value:
        return []
    items = [i.strip(" .\"'") for i in re.split(r",|;|/|\band\b|\bund\b|\bet\b|\by\b", value)]
    return list(dict.fromkeys(i for i in items if i))


def place(text: str) -> str | None:
    """A place the text puts something in: "in Berlin", "based in New York", "Location: Lyon"."""
    match = re.search(r"\b(?:in|at|near|from|aus|à|en|em)\s+((?:[A-ZÄÖÜÉ][\w'-]+)(?:\s+[A-ZÄÖÜÉ][\w'-]+){0,2})", text)
    if match:
        return match.group(1)
    if re.search(r"\bremote\b", text, re.IGNORECASE):
        return "Remote"
    return None


def headline(text: str, max_words: int = 6) -> str | None:
    """What the text is, in its own first words: "Senior data engineer" from "Senior data engineer in Berlin; ..."."""
    first = re.split(
        rf"[\n;:,(!?]|\.(?:\s|$)|\s[{_DASHES}]\s|\s(?:in|at|for|with|wanted|needed)\s", text.strip(), maxsplit=1
    )[0]
    words = first.split()
    return " ".join(words[:max_words]) if words else None


def emails(text: str) -> list[str]:
    return re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text)


def urls(text: str) -> list[str]:
    return [u.rstrip(".,;)") for u in re.findall(r"https?://[^\s\"'<>]+", text)]
