"""Stand-in for the ``vllm`` executable: ``vllm --version``, ``vllm serve --help[=all]`` and ``vllm serve MODEL``.

Two generations, chosen by ``STANDIN_VLLM_LEGACY`` (unset: current):

- current (0.11-style): grouped ``--help`` that lists every option only with ``--help=all``;
  ``--speculative-config JSON`` validated like ``SpeculativeConfig`` (method, ``num_speculative_tokens`` > 0,
  EAGLE-3 only for llama/qwen-type targets: the refusal text is vLLM's); counters
  ``vllm:spec_decode_num_{draft,accepted}_tokens_total``.
- legacy (0.6-style): one flat ``--help`` (``--help=all`` is an argparse error, as in argparse),
  ``--speculative-model`` / ``--num-speculative-tokens`` / ``--ngram-prompt-lookup-{max,min}``, counters without
  ``_total``.

Serving: the OpenAI routes of :mod:`.fakeserve`, ``/health``, ``/metrics`` (Prometheus text); the served model
name is the model argument (vLLM's default). A port in use exits 1 with uvicorn's bind error. A worker child
(the "engine core") shares the process group.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

from tests.standins import fakeserve

METHODS = {"ngram", "eagle", "eagle3", "medusa", "mlp_speculator", "draft_model", "mtp", "suffix"}
EAGLE3_TYPES = ("llama", "qwen", "minicpm", "gpt_oss")


def legacy() -> bool:
    return bool(os.environ.get("STANDIN_VLLM_LEGACY"))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vllm serve", add_help=False,
                                description="Start the vLLM OpenAI Compatible API server.")
    p.add_argument("model_tag", nargs="?", help="The model tag to serve")
    p.add_argument("-h", "--help", action="store_true", help="show this help message and exit")
    p.add_argument("--host", type=str, default=None, help="Host name.")
    p.add_argument("--port", type=int, default=8000, help="Port number.")
    p.add_argument("--served-model-name", nargs="+", default=None, help="The model name(s) used in the API.")
    p.add_argument("--seed", type=int, default=0, help="Random seed for operations.")
    p.add_argument("--max-model-len", type=int, default=None, help="Model context length.")
    p.add_argument("--tensor-parallel-size", "-tp", type=int, default=1, help="Number of tensor parallel groups.")
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9,
                   help="The fraction of GPU memory to be used for the model executor.")
    p.add_argument("--enforce-eager", action="store_true", help="Always use eager-mode PyTorch.")
    if legacy():
        p.add_argument("--speculative-model", type=str, default=None, help="The name of the draft model.")
        p.add_argument("--num-speculative-tokens", type=int, default=None, help="The number of speculative tokens.")
        p.add_argument("--ngram-prompt-lookup-max", type=int, default=None, help="Max window size for ngram lookup.")
        p.add_argument("--ngram-prompt-lookup-min", type=int, default=None, help="Min window size for ngram lookup.")
    else:
        p.add_argument("--speculative-config", "-sc", type=json.loads, default=None,
                       help="The configurations for speculative decoding. Should be a JSON string.")
    return p


GROUPED_HELP = """usage: vllm serve [model_tag] [options]

Start the vLLM OpenAI Compatible API server.

positional arguments:
  model_tag             The model tag to serve (optional if specified in config)

options:
  -h, --help            show this help message and exit

Config Groups:
  ModelConfig, CacheConfig, ParallelConfig, SpeculativeConfig, ...

Tip: Use `vllm serve --help=<ConfigGroup>` to explore arguments from help.
   - To view a argument group:     --help=ModelConfig
   - To view all arguments:        --help=all
"""


def main(argv: List[str]) -> int:
    if argv[:1] == ["--version"]:
        print("0.6.3.post1" if legacy() else "0.11.0")
        return 0
    if argv[:1] != ["serve"]:
        print("usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...", file=sys.stderr)
        return 2
    args_in = argv[1:]
    if "--help=all" in args_in and not legacy():
        parser().print_help()
        return 0
    if "--help" in args_in or "-h" in args_in:
        if legacy():
            parser().print_help()
        else:
            print(GROUPED_HELP)
        return 0
    args = parser().parse_args(args_in)           # unknown flags: "vllm serve: error: unrecognized arguments"
    if args.help:                                 # --help=all on the legacy parser is an argparse error above
        return 0
    k = check_speculation(args)
    if k is False:
        return 1
    fakeserve.load_delay()
    name = (args.served_model_name or [args.model_tag])[0]
    model = fakeserve.Model(name, k if isinstance(k, int) else None)
    worker = fakeserve.spawn_worker()
    suffix = "" if legacy() else "_total"

    def metrics(m: fakeserve.Model):
        c = m.counters
        rows = [f"# TYPE vllm:generation_tokens{suffix} counter",
                f'vllm:generation_tokens{suffix}{{model_name="{name}"}} {c["generation_tokens"]}.0',
                f'vllm:prompt_tokens{suffix}{{model_name="{name}"}} {c["prompt_tokens"]}.0']
        if m.k:
            rows += [f"# TYPE vllm:spec_decode_num_draft_tokens{suffix} counter",
                     f'vllm:spec_decode_num_draft_tokens{suffix}{{model_name="{name}"}} {c["drafted"]}.0',
                     f'vllm:spec_decode_num_accepted_tokens{suffix}{{model_name="{name}"}} {c["accepted"]}.0',
                     f'vllm:spec_decode_num_drafts{suffix}{{model_name="{name}"}} {c["drafts"]}.0']
        return 200, "text/plain; version=0.0.4", ("\n".join(rows) + "\n").encode()

    handler = type("VLLMHandler", (fakeserve.Handler,), {"model": model, "extra_get": {"/metrics": metrics}})
    try:
        return fakeserve.serve(handler, args.host or "0.0.0.0", args.port,
                               bind_error="ERROR:    [Errno 98] error while attempting to bind on address "
                                          "('{host}', {port}): address already in use")
    finally:
        worker.kill()


def check_speculation(args: argparse.Namespace) -> "Optional[int] | bool":
    """K when speculation is configured, None when not, False after printing vLLM's refusal."""
    if legacy():
        if args.speculative_model is None:
            return None
        if args.num_speculative_tokens is None:
            print("ValueError: Expected both speculative_model and num_speculative_tokens to be provided, but found "
                  f"speculative_model={args.speculative_model!r} and num_speculative_tokens=None.", file=sys.stderr)
            return False
        return int(args.num_speculative_tokens)
    spec = args.speculative_config
    if spec is None:
        return None
    if not isinstance(spec, dict):
        print("vllm serve: error: argument --speculative-config/-sc: must be a JSON object", file=sys.stderr)
        return False
    method = spec.get("method")
    if method is not None and method not in METHODS:
        print(f"pydantic_core._pydantic_core.ValidationError: 1 validation error for SpeculativeConfig\nmethod\n"
              f"  Input should be {', '.join(sorted(METHODS))} [type=literal_error, input_value={method!r}]",
              file=sys.stderr)
        return False
    k = spec.get("num_speculative_tokens")
    if not isinstance(k, int) or k <= 0:
        print("ValueError: num_speculative_tokens must be provided with speculative model unless the draft model "
              "config contains an n_predict parameter.", file=sys.stderr)
        return False
    if method == "eagle3" and not any(t in str(args.model_tag).lower() for t in EAGLE3_TYPES):
        print("Traceback (most recent call last):\n  File \"vllm/config/speculative.py\", line 512, in _verify_args\n"
              f"ValueError: Eagle3 is only supported for {list(EAGLE3_TYPES)} models. Got "
              f"self.target_model_config.hf_text_config.model_type='{str(args.model_tag).split('/')[-1]}'",
              file=sys.stderr)
        return False
    return k


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
