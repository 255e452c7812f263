"""The tokenization test strings: the manual's 23 across its six categories (§4.1), plus user strings.

Each entry is ``(category, text)``. The checker (``compat/checks.py``) tokenizes every text with both tokenizers
(``add_special_tokens=False``) and compares the ids; a text passes when the id lists are equal.

Categories follow the manual's list: basic sentences, numbers and punctuation, special characters, code
snippets, unicode and emoji, edge cases (empty, whitespace only, leading/trailing spaces, long). Strings a
user adds (``EnhancedTokenizerChecker.TEST_STRINGS.extend(...)``, manual §8.7; ``--test-strings FILE``;
the ``test_strings`` config key) are tagged ``"user"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, List, Sequence, Tuple, Union

from draftfinder.errors import ModelFileError

TestString = Tuple[str, str]          # (category, text)

BASIC = "basic"
NUMBERS = "numbers_punctuation"
SPECIAL = "special_characters"
CODE = "code"
UNICODE = "unicode_emoji"
EDGE = "edge_cases"
USER = "user"

CATEGORIES: Tuple[str, ...] = (BASIC, NUMBERS, SPECIAL, CODE, UNICODE, EDGE)

# A long input (~2,700 characters): catches differences that only show after many merges, and
# truncation/max-length settings that differ between tokenizers.
_LONG_TEXT = " ".join(
    ["Speculative decoding drafts several tokens with a small model and verifies them in one pass of the "
     "large model; when the draft agrees, many tokens are produced for the price of one."] * 16
)

DEFAULT_TEST_STRINGS: Tuple[TestString, ...] = (
    # basic sentences
    (BASIC, "Hello, world!"),
    (BASIC, "The quick brown fox jumps over the lazy dog."),
    (BASIC, "I'm sure you'll find it isn't as hard as it looks, isn't it?"),
    # numbers and punctuation
    (NUMBERS, "The price rose 3.14% to $1,234.56 on 2024-03-15 at 09:30."),
    (NUMBERS, "Call +1 (555) 010-9999, ext. 42; or write to info@example.com!"),
    (NUMBERS, "1 + 1 = 2, 10 / 4 = 2.5, 2^10 = 1024 and 1e-5 < 0.001."),
    (NUMBERS, "Wait... what?! \"Quoted\" text -- and (nested [brackets] {too})."),
    # special characters
    (SPECIAL, "Tabs\tand\nnewlines\r\nmixed\n\n\ttogether."),
    (SPECIAL, "Symbols: @#$%^&*()_+-=[]{}|;':\",./<>?`~\\"),
    (SPECIAL, "Path C:\\Users\\name\\file.txt and URL https://example.com/a?b=c&d=e#frag"),
    (SPECIAL, "<html><body class=\"x\">&amp; &lt;tag&gt; </body></html>"),
    # code snippets
    (CODE, "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"),
    (CODE, "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}"),
    (CODE, "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;"),
    (CODE, "const f = async (x) => { await g(x); return x ?? null; };"),
    # unicode and emoji
    (UNICODE, "Café naïve résumé — coöperate façade, Ångström, straße"),
    (UNICODE, "日本語のテキストと中文文本，한국어 텍스트"),
    (UNICODE, "Emoji: 🎉🚀👍🏽 👨‍👩‍👧‍👦 ❤️ 🇯🇵"),
    (UNICODE, "Ελληνικά, русский, العربية, עברית, हिन्दी, ไทย"),
    # edge cases
    (EDGE, ""),
    (EDGE, "   \t  \n\n  "),
    (EDGE, "   leading and trailing spaces   "),
    (EDGE, _LONG_TEXT),
)


def default_test_strings() -> List[TestString]:
    """A fresh list of the 23 built-in ``(category, text)`` pairs."""
    return list(DEFAULT_TEST_STRINGS)


def default_texts() -> List[str]:
    """The 23 built-in texts only (the initial value of ``EnhancedTokenizerChecker.TEST_STRINGS``)."""
    return [text for _, text in DEFAULT_TEST_STRINGS]


def categorize(texts: Iterable[str]) -> List[TestString]:
    """Pair each text with its built-in category, or ``"user"`` for a text that is not built in."""
    known = {}
    for category, text in DEFAULT_TEST_STRINGS:
        known.setdefault(text, category)
    return [(known.get(text, USER), text) for text in texts]


def with_user_strings(
    extra: Iterable[Union[str, TestString]], base: Sequence[TestString] = DEFAULT_TEST_STRINGS
) -> List[TestString]:
    """``base`` followed by the user's strings; a plain string is tagged ``"user"``, a pair keeps its category."""
    out = list(base)
    for item in extra:
        if isinstance(item, str):
            out.append((USER, item))
        else:
            category, text = item
            out.append((str(category), str(text)))
    return out


def read_user_strings(path: Union[str, Path]) -> List[str]:
    """Test strings from a file: a JSON list of strings (``.json``), or one string per non-empty line.

    In the line format ``\\n`` and ``\\t`` escapes are expanded so multi-line snippets fit on one line.
    Raises ``ModelFileError`` when the file cannot be read or has the wrong shape.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ModelFileError(p, f"cannot read test strings ({e.strerror or e})",
                             hint="pass a UTF-8 text file with one test string per line, or a JSON list") from e
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ModelFileError(p, f"not valid JSON ({e})", hint="write a JSON list of strings") from e
        if not isinstance(data, list) or not all(isinstance(s, str) for s in data):
            raise ModelFileError(p, "expected a JSON list of strings", hint='e.g. ["first test", "second test"]')
        return list(data)
    return [line.replace("\\n", "\n").replace("\\t", "\t") for line in text.splitlines() if line.strip()]
