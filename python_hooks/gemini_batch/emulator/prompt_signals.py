"""Cheap reading of a prompt so deterministic answers look plausible: keyword sentiment, topics, keywords.

Nothing here pretends to be a model. It exists so that a demo or a parse model sees "negative" for a review that says
"arrived broken, I want a refund", which makes downstream aggregates look like data rather than noise.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

POSITIVE = {
    "great", "love", "loved", "loves", "excellent", "amazing", "perfect", "fantastic", "wonderful",
    "happy", "recommend",
    "best", "awesome", "good", "nice", "fast", "friendly", "helpful", "delighted", "satisfied", "superb",
    "brilliant",
    "easy", "comfortable", "reliable", "beautiful", "pleased", "impressed", "works",
}  # fmt: skip
NEGATIVE = {
    "broken", "terrible", "refund", "awful", "bad", "worst", "hate", "poor", "disappointed",
    "disappointing", "damaged",
    "late", "useless", "return", "returned", "defective", "slow", "rude", "waste", "scam", "faulty",
    "missing",
    "horrible", "angry", "cracked", "leaked", "leaking", "stopped", "failed", "fails", "overpriced", "wrong",
    "crash", "crashes", "crashed", "freezes", "error", "bug", "buggy",
}  # fmt: skip
NEGATORS = {"not", "no", "never", "hardly", "isn't", "wasn't", "don't", "doesn't", "didn't", "can't", "won't"}
STOPWORDS = {
    "this", "that", "with", "from", "have", "were", "they", "their", "there", "what", "when", "which",
    "would", "could",
    "should", "about", "into", "your", "just", "than", "then", "them", "been", "also", "very", "only",
    "after", "before",
    "review", "classify", "following", "return", "answer", "please", "json", "sentiment", "text",
    "customer", "product",
    "given", "below", "above", "topics", "topic", "summary", "each", "field", "fields", "schema", "list",
}  # fmt: skip
# Words that point at a topic even when the topic's own name is absent.
TOPIC_HINTS = {
    "shipping": {"shipping", "delivery", "delivered", "arrived", "package", "courier", "late", "shipped"},
    "delivery": {"shipping", "delivery", "delivered", "arrived", "package", "courier", "late"},
    "price": {"price", "expensive", "cheap", "cost", "value", "overpriced", "money", "worth"},
    "value": {"price", "expensive", "cheap", "cost", "value", "money", "worth"},
    "quality": {
        "quality",
        "broken",
        "defective",
        "material",
        "cracked",
        "sturdy",
        "flimsy",
        "faulty",
        "durable",
    },
    "service": {"service", "support", "staff", "rude", "helpful", "friendly", "agent", "refund"},
    "support": {"service", "support", "staff", "rude", "helpful", "agent"},
    "battery": {"battery", "charge", "charging", "charger"},
    "packaging": {"packaging", "box", "package", "wrapped"},
    "size": {"size", "fit", "fits", "small", "large", "tight"},
}
_WORD = re.compile(r"[a-z][a-z']+")


@dataclass(frozen=True)
class PromptSignals:
    text: str
    words: list[str] = field(default_factory=list)
    sentiment: int = 0  # positive minus negative keyword hits (negated hits flip)
    positive_hits: int = 0
    negative_hits: int = 0

    @property
    def label(self) -> str:
        if self.positive_hits and self.negative_hits and abs(self.sentiment) <= 1:
            return "mixed"
        if self.sentiment > 0:
            return "positive"
        if self.sentiment < 0:
            return "negative"
        return "neutral"

    def keywords(self, limit: int = 5) -> list[str]:
        counts = Counter(w for w in self.words if len(w) >= 4 and w not in STOPWORDS and "'" not in w)
        first = {w: i for i, w in reversed(list(enumerate(self.words)))}
        return sorted(counts, key=lambda w: (-counts[w], first[w]))[:limit]

    def phrase(self, max_words: int = 14) -> str:
        """The first sentence of the prompt's last paragraph, shortened: a stand-in for a summary."""
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n|\n", self.text) if p.strip()]
        source = paragraphs[-1] if paragraphs else ""
        source = re.sub(r"^[A-Za-z ]{1,20}:\s*", "", source).strip(" \"'")
        sentence = re.split(r"(?<=[.!?])\s", source, maxsplit=1)[0]
        words = sentence.split()
        if not words:
            return "No content to summarize."
        text = " ".join(words[:max_words])
        return text if len(words) <= max_words else text.rstrip(".,;:!?") + "..."


def read_prompt(text: str, ignore: set[str] | None = None) -> PromptSignals:
    """Score the prompt; words in `ignore` (e.g. the enum labels an instruction lists) do not count."""
    words = _WORD.findall(text.lower())
    skip = {w.lower() for w in ignore or set()}
    positive = negative = 0
    for i, word in enumerate(words):
        if word in skip or (word not in POSITIVE and word not in NEGATIVE):
            continue
        negated = any(prev in NEGATORS or prev.endswith("n't") for prev in words[max(0, i - 2) : i])
        if word in POSITIVE:
            if negated:
                negative += 1
            else:
                positive += 1
        elif word in NEGATIVE:
            if negated:
                positive += 1
            else:
                negative += 1
    return PromptSignals(text, words, positive - negative, positive, negative)


def sentiment_choice(signals: PromptSignals, options: list[str]) -> str | None:
    """The enum option naming the prompt's sentiment (positive/negative/neutral/mixed), if there is one."""
    wanted = {
        "positive": ("pos", "good", "happy", "satisf", "favorable", "prais", "compliment", "thank"),
        "negative": ("neg", "bad", "unhappy", "unsatisf", "complain", "unfavorable", "bug", "problem", "defect"),
        "neutral": ("neu", "mixed", "neither"),
        "mixed": ("mix", "neu"),
    }[signals.label]
    for stem in wanted:
        for option in options:
            if option.lower().startswith(stem) or (len(stem) > 3 and stem in option.lower()):
                return option
    return None


def topic_scores(signals: PromptSignals, options: list[str]) -> dict[str, int]:
    """How often each option (or a hint word for it) occurs in the prompt."""
    counts = Counter(signals.words)
    return {option: sum(counts[h] for h in _hints(option)) for option in options}


@lru_cache(maxsize=4096)
def _hints(option: str) -> frozenset[str]:
    """The words that count as a mention of an option: its own words plus TOPIC_HINTS for them."""
    parts = [p for p in re.split(r"[^a-z]+", option.lower()) if p]
    hints = set(parts)
    for part in parts:
        hints |= TOPIC_HINTS.get(part, set())
    return frozenset(hints)


def matching_topics(signals: PromptSignals, options: list[str]) -> list[str]:
    """Options mentioned more than the least-mentioned one (an instruction listing all is discounted)."""
    scores = topic_scores(signals, options)
    if not scores:
        return []
    floor = min(scores.values())
    picked = [o for o in options if scores[o] > floor]
    return sorted(picked, key=lambda o: -scores[o])
