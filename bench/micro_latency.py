#!/usr/bin/env python3
"""Latency of the small operations whose speed the unit tests used to assert with wall-clock bounds.

Timed here instead (a benchmark records the machine and its load; a unit test must not fail because the machine
is busy). Median of ``--repeats`` after one untimed warm-up, each against the bound the test used to assert:

  ngram_draft_call_ms      NGramDrafter("basic", n=4).draft(ids, 16) on 4,000 random ids (was < 0.5 ms,
                           tests/engine/test_ngram.py)
  gguf_header_read_ms      read_gguf_meta of the zoo GGUFs, cache cleared (was < 500 ms) and cached (< 5 ms)
                           (tests/models/test_gguf_meta.py)
  qwen_tokenizer_facts_s   facts_from_tokenizer of a fresh Qwen2.5-7B tokenizer, 151,665 tokens (was < 1 s,
                           tests/compat/test_tokenizer.py)
  gemma_gguf_tokenizer_s   load_tokenizer + facts of the zoo Gemma-3 GGUF, tokenizer cache cleared (was < 10 s)
  load_model_cached_ms     load_model("zoo:smollm2-135m") again after a first load (was < 500 ms,
                           tests/engine/test_loading.py)

Usage: python bench/micro_latency.py [--repeats 5] [--out FILE]
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from _common import REPO, BenchRun, bench_parser

FIXTURES = REPO.parent / "shared" / "fixtures"


def timed(fn, repeats, setup=None):
    if setup:
        setup()
    fn()                                             # warm-up, untimed
    out = []
    for _ in range(repeats):
        if setup:
            setup()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def row(samples_s, scale, bound, unit):
    med = statistics.median(samples_s) * scale
    return {"median": med, "samples": [x * scale for x in samples_s], "unit": unit, "former_test_bound": bound,
            "within_former_bound": med < bound}


def main() -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    run = BenchRun(args)
    from draftfinder.compat import facts
    from draftfinder.compat import tokenizer as vocab
    from draftfinder.engine.loading import load_model
    from draftfinder.engine.ngram import NGramDrafter
    from draftfinder.models.gguf_meta import _read_cached, read_gguf_meta
    from draftfinder.models.resolver import ModelRecord
    from draftfinder.models.sources.zoo import ZooSource

    rows = {}
    rng = random.Random(0)
    ids = [rng.randrange(50) for _ in range(4000)]
    d = NGramDrafter("basic", n=4)
    d.begin(ids)
    rows["ngram_draft_call_ms"] = row(timed(lambda: [d.draft(ids, 16, None, None) for _ in range(200)], args.repeats),
                                      1e3 / 200, 0.5, "ms")
    zoo = ZooSource()
    ggufs = {name: zoo.resolve(f"zoo:{name}").gguf_path for name in ("smollm2-135m", "gemma3-270m")}
    for name, path in ggufs.items():
        rows[f"gguf_header_read_ms[{name}]"] = row(timed(lambda: read_gguf_meta(path), args.repeats,
                                                         setup=_read_cached.cache_clear), 1e3, 500, "ms")
        rows[f"gguf_header_read_cached_ms[{name}]"] = row(timed(lambda: read_gguf_meta(path), args.repeats), 1e3, 5,
                                                          "ms")
    from transformers import AutoTokenizer

    fresh = lambda: AutoTokenizer.from_pretrained(str(FIXTURES / "Qwen__Qwen2.5-7B"))
    toks = []
    rows["qwen_tokenizer_facts_s"] = row(timed(lambda: facts.facts_from_tokenizer(toks[-1]), args.repeats,
                                               setup=lambda: toks.append(fresh())), 1, 1.0, "s")
    gemma = ModelRecord(model_id="gemma", source="gguf", gguf_path=ggufs["gemma3-270m"])
    rows["gemma_gguf_tokenizer_s"] = row(timed(lambda: facts.facts_from_tokenizer(vocab.load_tokenizer(gemma)),
                                               max(1, args.repeats // 2), setup=vocab.clear_cache), 1, 10, "s")
    load_model("zoo:smollm2-135m")
    rows["load_model_cached_ms"] = row(timed(lambda: load_model("zoo:smollm2-135m"), args.repeats), 1e3, 500, "ms")

    print(f"micro latency: median of {args.repeats} after a warm-up")
    print(f"{'operation':<44} {'median':>10}  {'former bound':>12}")
    for name, r in rows.items():
        print(f"{name:<44} {r['median']:>8.3g} {r['unit']:<2} {('< ' + format(r['former_test_bound'], 'g') + ' ' + r['unit']):>12}"
              f"{'' if r['within_former_bound'] else '  (over)'}")
    run.finish({"repeats": args.repeats, "rows": rows})
    over = [n for n, r in rows.items() if not r["within_former_bound"]]
    print(f"HEADLINE: {len(rows) - len(over)} of {len(rows)} operations within the bounds the unit tests used to "
          f"assert" + (f"; over: {', '.join(over)}" if over else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
