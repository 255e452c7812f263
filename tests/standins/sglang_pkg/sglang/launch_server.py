"""Stand-in for ``python -m sglang.launch_server`` (argparse options spelled as SGLang's ``server_args.py``).

Validates like SGLang: ``--speculative-algorithm`` choices; STANDALONE needs ``--speculative-draft-model-path``;
EAGLE-family top-k 1 with ``--speculative-num-draft-tokens`` ≠ steps + 1 is adjusted (logged); NEXTN on a target
without MTP layers (name lacking "mtp"/"deepseek") exits with SGLang's kind of error. Serves the OpenAI routes,
``/health``, and ``/get_server_info`` + ``/server_info`` whose ``internal_states[0].avg_spec_accept_length`` is
the scheduler's cumulative (accepted + bonus) ÷ verify steps.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))))

from tests.standins import fakeserve  # noqa: E402

ALGORITHMS = ["EAGLE", "EAGLE3", "NEXTN", "STANDALONE", "NGRAM"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="launch_server.py")
    p.add_argument("--model-path", "--model", type=str, required=True,
                   help="The path of the model weights. This can be a local folder or a Hugging Face repo ID.")
    p.add_argument("--host", type=str, default="127.0.0.1", help="The host of the HTTP server.")
    p.add_argument("--port", type=int, default=30000, help="The port of the HTTP server.")
    p.add_argument("--random-seed", type=int, default=None, help="The random seed.")
    p.add_argument("--context-length", type=int, default=None, help="The model's maximum context length.")
    p.add_argument("--tensor-parallel-size", "--tp-size", type=int, default=1, help="The tensor parallelism size.")
    p.add_argument("--mem-fraction-static", type=float, default=None,
                   help="The fraction of the memory used for static allocation (model weights and KV cache).")
    p.add_argument("--speculative-algorithm", type=str, choices=ALGORITHMS, help="Speculative algorithm.")
    p.add_argument("--speculative-draft-model-path", "--speculative-draft-model", type=str,
                   help="The path of the draft model weights.")
    p.add_argument("--speculative-num-steps", type=int, help="The number of steps sampled from draft model.")
    p.add_argument("--speculative-eagle-topk", type=int, help="The number of tokens sampled from the draft model.")
    p.add_argument("--speculative-num-draft-tokens", type=int, help="The number of tokens sampled from the draft.")
    p.add_argument("--speculative-ngram-min-match-window-size", type=int, default=1,
                   help="The minimum window size for pattern matching in ngram speculative decoding.")
    p.add_argument("--speculative-ngram-max-match-window-size", type=int, default=12,
                   help="The maximum window size for pattern matching in ngram speculative decoding.")
    p.add_argument("--speculative-ngram-min-bfs-breadth", type=int, default=1, help="The minimum BFS breadth.")
    p.add_argument("--speculative-ngram-max-bfs-breadth", type=int, default=10, help="The maximum BFS breadth.")
    p.add_argument("--enable-metrics", action="store_true", help="Enable log prometheus metrics.")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    algo = args.speculative_algorithm
    k = None
    if algo is not None:
        if algo == "STANDALONE" and not args.speculative_draft_model_path:
            print("AssertionError: speculative_draft_model_path is required for STANDALONE", file=sys.stderr)
            return 1
        if algo == "NEXTN" and not any(t in args.model_path.lower() for t in ("mtp", "deepseek")):
            print(f"ValueError: {args.model_path} has no MTP (NextN) layers: num_nextn_predict_layers is not set "
                  "in its config", file=sys.stderr)
            return 1
        if algo == "NGRAM":
            k = (args.speculative_num_draft_tokens or 12) - 1
        else:
            k = args.speculative_num_steps or 3
            if args.speculative_eagle_topk == 1 and args.speculative_num_draft_tokens != k + 1:
                print(f"WARNING: speculative_num_draft_tokens is adjusted to speculative_num_steps + 1 = {k + 1} "
                      "when speculative_eagle_topk == 1", file=sys.stderr)
    fakeserve.load_delay()
    model = fakeserve.Model(args.model_path, k)
    worker = fakeserve.spawn_worker()

    def info(m: fakeserve.Model):
        c = m.counters
        state = {"last_gen_throughput": 100.0,
                 "avg_spec_accept_length": (c["accept_length_sum"] / c["verify_steps"]) if c["verify_steps"] else None}
        if m.k is None:
            state.pop("avg_spec_accept_length")
        body = {"model_path": args.model_path, "speculative_algorithm": algo, "internal_states": [state],
                "version": "0.5.4.standin"}
        return 200, "application/json", json.dumps(body).encode()

    handler = type("SGLangHandler", (fakeserve.Handler,),
                   {"model": model, "extra_get": {"/get_server_info": info, "/server_info": info}})
    try:
        return fakeserve.serve(handler, args.host, args.port,
                               bind_error="ERROR:    [Errno 98] error while attempting to bind on address "
                                          "('{host}', {port}): address already in use")
    finally:
        worker.kill()


if __name__ == "__main__":
    sys.exit(main())
