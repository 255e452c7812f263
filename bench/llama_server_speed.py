#!/usr/bin/env python3
"""llama-server decode speed on the zoo SmolLM2 GGUF: plain, and with speculative decoding, side by side.

Servers are started and stopped by the sweep's llamacpp backend (``draftfinder.sweep.backends.llamacpp``: the
binary found by ``llama_bin``, bound to 127.0.0.1, one slot, ``cache_prompt: false``, greedy, stopped on every
exit path — close in ``finally``, at interpreter exit, and with this process on Linux). One server per
configuration, all loaded before timing, so requests can be interleaved prompt by prompt:

  baseline      ``llama-server -m SmolLM2.gguf``                                   (no draft)
  self-draft    ``--model-draft SmolLM2.gguf --spec-type draft-simple``, K drafts   (the target drafts for itself:
                acceptance ≈ 1, so this shows the cost of llama.cpp's draft + batched verify machinery)
  ngram         ``--spec-type ngram-simple``, lookup n−1 = 2, K drafts

Per configuration vs the baseline, through ``draftfinder.measure.sidebyside.side_by_side`` (warm-up request
dropped, ``--repeats`` rounds, medians): decode tok/s = tokens / (client wall time − the server's
``prompt_ms``); the server's own ``predicted_per_second`` is recorded beside it; outputs are compared token
for token with the baseline's (greedy). ``--threads`` is passed as ``-t`` (default 1, as the engine benches).

Usage: python bench/llama_server_speed.py [--target zoo:smollm2-135m] [--task summarization] [--limit 2]
       [--max-new-tokens 64] [--k 4] [--repeats 2] [--threads 1] [--configs baseline,self-draft,ngram] [--out FILE]
"""

from __future__ import annotations

import statistics
import sys

from _common import BenchRun, bench_parser


def main() -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--task", default="summarization")
    ap.add_argument("--limit", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--configs", default="baseline,self-draft,ngram")
    args = ap.parse_args()
    run = BenchRun(args)

    from draftfinder.measure.prompts import load_prompts
    from draftfinder.measure.sidebyside import Run, side_by_side
    from draftfinder.sweep.backends.llamacpp import LlamaCppBackend
    from draftfinder.sweep.config import sweep_config_from_dict

    cfg = sweep_config_from_dict({
        "name": "llama-server-speed", "backend": "llamacpp", "hardware": "local",
        "targets": [{"label": "target", "path": args.target}],
        "drafts": [{"label": "self-draft", "path": args.target}, {"label": "ngram", "type": "ngram", "n": 3}],
        "settings": {"max_tokens": args.max_new_tokens, "temperature": 0.0, "task": args.task, "seed": 0,
                     "threads": args.threads}})
    settings = cfg.settings
    backend = LlamaCppBackend(cfg, {})
    run.extra_versions["llama_server"] = backend.binary.version
    run.extra_versions["llama_server_package"] = backend.binary.package
    prompts = load_prompts(args.task, limit=args.limit)
    drafts = {d.label: d for d in cfg.drafts}
    wanted = [c.strip() for c in args.configs.split(",") if c.strip()]

    sessions = {}
    server_tps = {}
    try:
        sessions["baseline"] = backend.open(cfg.targets[0], None, None, settings)
        for name in wanted:
            if name != "baseline":
                sessions[name] = backend.open(cfg.targets[0], drafts[name], args.k, settings)

        def generate(name):
            def call(prompt, max_new):
                settings.max_tokens = max_new
                g = sessions[name].generate(prompt, settings)
                server_tps.setdefault(name, []).append(g.tps)
                stats = None
                if g.drafted is not None:
                    stats = _Counters(g.drafted, g.accepted or 0)
                return Run(list(g.token_ids or []), g.total_s, g.prompt_s, stats)
            return call

        pairs = [(p.id, p) for p in prompts]
        results = {}
        base_alone = None
        for name in wanted:
            if name == "baseline":
                continue
            res = side_by_side(pairs, generate("baseline"), generate(name), max_new_tokens=args.max_new_tokens,
                               repeats=args.repeats, warmup_tokens=8, labels=("baseline", name))
            results[name] = res
        if not results:                      # baseline only: time it against itself for the figures
            base_alone = side_by_side(pairs, generate("baseline"), generate("baseline"),
                                      max_new_tokens=args.max_new_tokens, repeats=args.repeats, warmup_tokens=8)
        commands = {name: s.command for name, s in sessions.items()}
    finally:
        for s in sessions.values():
            s.close()

    rows = {}
    if base_alone is not None:
        rows["baseline"] = {"decode_tok_s": base_alone.baseline_tokens_per_s}
    for name, res in results.items():
        rows[name] = {"baseline_decode_tok_s": res.baseline_tokens_per_s, "decode_tok_s": res.candidate_tokens_per_s,
                      "decode_speedup": res.decode_speedup, "total_speedup": res.total_speedup,
                      "accepted_per_drafted": res.accepted_per_drafted, "outputs_identical": res.outputs_identical,
                      "mismatch_prompts": res.mismatch_prompt_ids, "side_by_side": res.to_dict()}
    server = {name: statistics.median(v) for name, v in server_tps.items() if v}
    print(f"llama-server decode speed: target {args.target} ({backend.binary.version}), task {args.task}, "
          f"{len(prompts)} prompts, {args.max_new_tokens} new tokens, greedy, -t {args.threads}, K={args.k}, "
          f"{args.repeats} rounds (warm-up excluded), medians")
    print(f"{'config':<12} {'tok/s':>7} {'server tok/s':>12} {'baseline tok/s':>14} {'decode ×':>8} "
          f"{'accepted/drafted':>16} {'same out':>8}")
    for name, r in rows.items():
        f = lambda x, s=".2f": "—" if x is None else format(x, s)
        print(f"{name:<12} {f(r.get('decode_tok_s'), '.1f'):>7} {f(server.get(name), '.1f'):>12} "
              f"{f(r.get('baseline_decode_tok_s'), '.1f'):>14} {f(r.get('decode_speedup')):>8} "
              f"{f(r.get('accepted_per_drafted')):>16} {str(r.get('outputs_identical', '—')):>8}")
    figures = {"target": args.target, "task": args.task, "prompts": [p.id for p in prompts],
               "max_new_tokens": args.max_new_tokens, "k": args.k, "repeats": args.repeats, "threads": args.threads,
               "llama_server": backend.describe(), "server_commands": commands, "configs": rows,
               "server_reported_tok_s_median": server,
               "decode_tok_s_definition": "tokens / (client wall time of the streamed request − server prompt_ms)"}
    run.finish(figures)
    base = next((r.get("baseline_decode_tok_s") or r.get("decode_tok_s") for r in rows.values()), None)
    parts = [f"{n} {r['decode_tok_s']:.1f} tok/s ({r['decode_speedup']:.2f}× , same out {r['outputs_identical']})"
             for n, r in rows.items() if r.get("decode_speedup") is not None]
    print(f"HEADLINE: llama-server on {args.target}, -t {args.threads}: baseline {base:.1f} tok/s decode"
          + (f"; {'; '.join(parts)}" if parts else ""))
    return 0


class _Counters:
    """The draft counters llama-server reports (``draft_n``, ``draft_n_accepted``) in the loop's shape."""

    def __init__(self, drafted: int, accepted: int):
        self.drafted, self.accepted, self.steps, self.position_drafted = drafted, accepted, 0, []


if __name__ == "__main__":
    sys.exit(main())
