"""Chinese text for PostgreSQL full-text search.

PostgreSQL's parser has no Chinese word segmentation: a run of Han characters ("术后伤口护理
要点") becomes one token, so a search for a word inside it ("伤口") finds nothing. Articles
index their Han text once more as single characters and overlapping pairs ("术 后 伤 … 术后
后伤 伤口 …"); a query's Han runs are cut into the same pairs (or the single character), all
of which must match. Pairs need no dictionary, work for any vocabulary (drug names, procedure
names) and keep the index small; the price is an occasional match across a word boundary."""

import re

HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def cjk_ngrams(text: str) -> str:
    """Every Han character and every pair of neighbouring Han characters of ``text``."""
    grams: list[str] = []
    seen: set[str] = set()
    for run in HAN_RUN.findall(text or ""):
        for size in (1, 2):
            for i in range(len(run) - size + 1):
                gram = run[i : i + size]
                if gram not in seen:
                    seen.add(gram)
                    grams.append(gram)
    return " ".join(grams)


def cjk_query(query: str) -> str:
    """The query with each Han run replaced by its pairs (one character stays as it is);
    other words are kept for the ordinary index."""

    def pairs(match: re.Match) -> str:
        run = match.group(0)
        if len(run) == 1:
            return run
        return " ".join(run[i : i + 2] for i in range(len(run) - 1))

    return " ".join(HAN_RUN.sub(lambda m: f" {pairs(m)} ", query or "").split())
