"""draftfinder lint on real command lines from the engines' docs and issues (each cited), with the findings the
engines' own rules predict. Model facts come from the built-in catalog (offline resolver)."""

import json

import pytest

from draftfinder.errors import LintInputError
from draftfinder.lint import lint_text
from draftfinder.lint.commandline import read_commands


def rules(report, severity=None):
    return [f.rule for c in report.commands for f in c.findings if severity in (None, f.severity)]


# ggml-org/llama.cpp#12968 (build 5142, 2025-04): a 2025 command line on today's llama-server
ISSUE_12968 = ("llama-server -c 512 -cd 512 -m ~/models/qwen2.5-72b-iq4xs.gguf -md ~/models/qwen2.5-0.5b-iq4xs.gguf "
               "-ngld 999 -ngl 999 --draft-max 3 --draft-min 3 -t 1 -fa -ctv q8_0 -ctk q8_0")
# ggml-org/llama.cpp#28049 (2026-08): a current draft-mtp command line
ISSUE_28049 = ("llama-server --alias qwen38 -m Qwen3.8-27B-UD-Q4_K_XL.gguf --mmproj mmproj-F16.gguf -ngl 999 -fa on "
               "-ub 2048 -b 2048 -c 204800 -np 1 -cram 32768 --slot-save-path /tmp/slots --spec-type draft-mtp,ngram-mod "
               "--spec-draft-n-max 12 --spec-ngram-mod-n-min 24 --jinja --host 127.0.0.1 --port 8080")


def test_llama_2025_command_on_current_build():
    """Guards: removed/unknown flags, -fa's required value and -md without --spec-type (the server would load the
    draft and never draft) are all reported as errors."""
    r = lint_text(ISSUE_12968, resolve=False)
    got = rules(r, "error")
    assert got.count("llama.removed-flag") == 2
    assert "llama.unknown-flag" in got                      # -cd
    assert "llama.missing-value" in got                     # -fa followed by -ctv
    assert "llama.draft-model-without-spec-type" in got
    assert "llama.stray-token" not in got                   # -cd's value and q8_0 are read as values
    assert r.has_errors


def test_llama_current_command_is_clean():
    """A 2026 command with --spec-type draft-mtp passes the parser rules (no false alarms)."""
    r = lint_text(ISSUE_28049, resolve=False)
    assert rules(r, "error") == []


def test_llama_spec_type_present_no_error():
    r = lint_text("llama-server -m t.gguf -md d.gguf --spec-type draft-simple -ngl 99 -ngld 99", resolve=False)
    assert "llama.draft-model-without-spec-type" not in rules(r)


def test_llama_p_min_zero_warns():
    """Guards: --spec-draft-p-min 0 with a draft model is a warning naming common/speculative.cpp's stop rule."""
    r = lint_text("llama-server -m t.gguf -md d.gguf --spec-type draft-simple --spec-draft-p-min 0", resolve=False)
    f = [f for c in r.commands for f in c.findings if f.rule == "llama.p-min-zero"]
    assert f and f[0].severity == "warning" and "speculative.cpp" in f[0].enforcement.where


def test_llama_draft_not_offloaded():
    r = lint_text("llama-server -m t.gguf -md d.gguf --spec-type draft-simple -ngl 99 -ngld 0", resolve=False)
    assert "llama.draft-not-offloaded" in rules(r, "warning")
    r = lint_text("llama-server -m t.gguf -md d.gguf --spec-type draft-simple -ngl 99 -devd none", resolve=False)
    assert "llama.draft-not-offloaded" in rules(r, "warning")


def test_llama_draft_ctx_smaller():
    r = lint_text("llama-server -m t.gguf -md d.gguf -c 8192 -cd 2048", resolve=False)
    assert "llama.draft-ctx-smaller" in rules(r, "warning")


def test_llama_bad_spec_type_value():
    r = lint_text("llama-server -m t.gguf --spec-type draft", resolve=False)
    assert "llama.bad-value" in rules(r, "error")


def test_llama_recurrent_target_by_name():
    """Guards: a hybrid target (Qwen3-Next) with a draft model: llama-server disables drafting (#19270)."""
    r = lint_text("llama-server -m Qwen3-Next-80B-A3B-Instruct-Q4_K_M.gguf -md qwen3-0.6b.gguf "
                  "--spec-type draft-simple")
    f = [f for c in r.commands for f in c.findings if f.rule == "llama.recurrent-target"]
    assert f and f[0].severity == "error" and "by name" in f[0].message


# vllm-project/vllm#7456 (2024): the removed --speculative-model flags
ISSUE_7456 = ("vllm serve /models/Meta-Llama-3.1-405B-Instruct -tp 8 -pp 2 --speculative-model "
              "/models/Meta-Llama-3.1-8B-Instruct --use-v2-block-manager --num-speculative-tokens 5")
# vllm-project/vllm docs/features/speculative_decoding/draft_model.md @04329df
DOCS_DRAFT = ("vllm serve Qwen/Qwen3-4B-Thinking-2507 --host 0.0.0.0 --port 8000 --seed 42 -tp 1 --max-model-len 2048 "
              "--gpu-memory-utilization 0.8 --speculative-config '{\"model\": \"Qwen/Qwen3-0.6B\", "
              "\"num_speculative_tokens\": 5, \"method\": \"draft_model\"}'")
# vllm-project/vllm#25250: an EAGLE-3 head on its own target
PR_25250 = ("vllm serve \"RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8-dynamic\" --seed 42 --tensor-parallel-size 4 "
            "--speculative-config '{\"model\": \"nm-testing/SpeculatorLlama3-1-8B-Eagle3-converted-0717-quantized\", "
            "\"num_speculative_tokens\": 3, \"method\":\"eagle3\"}'")
# thomas9120/LLama-GUI#165: a deprecated MTP method name
GUI_165 = ("vllm serve Qwen/Qwen3-4B-Instruct-2507 --port 8000 --host 127.0.0.1 --max-model-len 32768 "
           "--speculative-config '{\"method\":\"qwen3_next_mtp\",\"num_speculative_tokens\":1}'")


def test_vllm_removed_flags_fix_is_speculative_config():
    r = lint_text(ISSUE_7456)
    f = [f for c in r.commands for f in c.findings if f.rule == "vllm.removed-flag"]
    assert f and f[0].severity == "error"
    assert json.loads(f[0].fix.split("'", 1)[1].rsplit("'", 1)[0]) == {
        "model": "/models/Meta-Llama-3.1-8B-Instruct", "num_speculative_tokens": 5}


def test_vllm_docs_command_has_no_errors():
    r = lint_text(DOCS_DRAFT)
    assert rules(r, "error") == []
    assert r.commands[0].target == "Qwen/Qwen3-4B-Thinking-2507"


def test_vllm_pr_25250_clean():
    assert rules(lint_text(PR_25250), "error") == [] and "vllm.head-for-other-target" not in rules(lint_text(PR_25250))


def test_vllm_deprecated_mtp_method():
    assert "vllm.deprecated-method" in rules(lint_text(GUI_165), "warning")


def test_vllm_vocab_mismatch_from_catalog():
    """Guards: Qwen2.5-7B-Instruct (152064) + Qwen2.5-0.5B (151936): vLLM's draft_model check refuses it."""
    cmd = ("vllm serve Qwen/Qwen2.5-7B-Instruct --speculative-config "
           "'{\"model\": \"Qwen/Qwen2.5-0.5B\", \"num_speculative_tokens\": 5}'")
    assert "vllm.vocab-mismatch" in rules(lint_text(cmd), "error")
    ok = cmd.replace('5}', '5, "use_heterogeneous_vocab": true}')
    assert "vllm.vocab-mismatch" not in rules(lint_text(ok))
    same = ("vllm serve facebook/opt-6.7b --speculative-config "
            "'{\"model\": \"facebook/opt-125m\", \"num_speculative_tokens\": 5}'")   # vLLM docs' classic pair
    assert rules(lint_text(same), "error") == []


def test_vllm_draft_tp_and_keys_and_method():
    cmd = ("vllm serve facebook/opt-6.7b -tp 4 --speculative-config '{\"model\": \"facebook/opt-125m\", "
           "\"num_speculative_tokens\": 5, \"draft_tensor_parallel_size\": 2, \"num_speculativ_tokens\": 3}'")
    got = rules(lint_text(cmd), "error")
    assert "vllm.draft-tp" in got and "vllm.unknown-key" in got
    ok = cmd.replace('"draft_tensor_parallel_size": 2', '"draft_tensor_parallel_size": 4')
    assert "vllm.draft-tp" not in rules(lint_text(ok))
    assert "vllm.unknown-method" in rules(lint_text('{"method": "eagle4", "model": "x", "num_speculative_tokens": 3}'))


def test_vllm_eagle3_on_unsupported_architecture():
    """Guards: EAGLE-3 on an OPT target (model_type opt, not in vLLM's allowlist)."""
    cmd = ("vllm serve facebook/opt-6.7b --speculative-config "
           "'{\"method\": \"eagle3\", \"model\": \"some/eagle3-head\", \"num_speculative_tokens\": 3}'")
    assert "vllm.eagle3-target" in rules(lint_text(cmd), "error")


def test_vllm_head_for_other_target():
    cmd = ("vllm serve meta-llama/Llama-2-7b-chat-hf --speculative-config "
           "'{\"method\": \"eagle3\", \"model\": \"yuhuili/EAGLE3-LLaMA3.1-Instruct-8B\", \"num_speculative_tokens\": 3}'")
    assert "vllm.head-for-other-target" in rules(lint_text(cmd), "warning")


# sgl-project/sglang docs/advanced_features/speculative_decoding.md @067ad4d
SGL_EAGLE3 = ("python3 -m sglang.launch_server --model meta-llama/Meta-Llama-3.1-8B-Instruct --speculative-algorithm EAGLE3 "
              "--speculative-draft-model-path jamesliu1/sglang-EAGLE3-Llama-3.1-Instruct-8B --speculative-num-steps 3 "
              "--speculative-eagle-topk 4 --speculative-num-draft-tokens 16 --mem-fraction-static 0.7 "
              "--cuda-graph-max-bs 8 --dtype float16 --log-level warning")
SGL_V2 = ("SGLANG_ENABLE_SPEC_V2=True python3 -m sglang.launch_server --model Qwen/Qwen2.5-7B-Instruct "
          "--speculative-algorithm STANDALONE --speculative-draft-model-path Qwen/Qwen2.5-1.5B-Instruct "
          "--speculative-num-steps 4 --speculative-eagle-topk 1 --speculative-num-draft-tokens 5 "
          "--mem-fraction-static 0.7 --cuda-graph-max-bs 8 --log-level warning")


def test_sglang_docs_commands_clean():
    for cmd in (SGL_EAGLE3, SGL_V2):
        r = lint_text(cmd)
        assert [f.rule for c in r.commands for f in c.findings if f.severity != "info"] == [], cmd


def test_sglang_rules():
    assert "sglang.spec-v2-topk" in rules(lint_text(SGL_V2.replace("topk 1", "topk 2")), "error")
    assert "sglang.draft-tokens-adjusted" in rules(lint_text(SGL_V2.replace("draft-tokens 5", "draft-tokens 8")))
    partial = SGL_EAGLE3.replace("--speculative-num-steps 3 ", "")
    assert "sglang.partial-tuning" in rules(lint_text(partial), "error")
    assert "sglang.unknown-algorithm" in rules(lint_text(SGL_EAGLE3.replace("EAGLE3 ", "EAGEL3 ", 1)), "error")
    assert "sglang.dp-attention" in rules(lint_text(SGL_V2 + " --enable-dp-attention"), "error")
    assert "sglang.head-for-other-target" in rules(lint_text(SGL_EAGLE3.replace(
        "meta-llama/Meta-Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct")), "warning")


def test_every_finding_cites_the_engine():
    for cmd in (ISSUE_12968, ISSUE_7456, SGL_V2.replace("topk 1", "topk 2")):
        for c in lint_text(cmd).commands:
            for f in c.findings:
                e = f.enforcement
                assert e.where and e.version and e.source, f.rule


def test_unreadable_input_names_the_token():
    with pytest.raises(LintInputError) as e:
        read_commands("llama-server -m 'a b.gguf -md d.gguf")
    assert "'a b.gguf" in e.value.message
    with pytest.raises(LintInputError) as e:
        lint_text("vllm serve x --speculative-config '{\"model\": \"d\" \"num_speculative_tokens\": 5}'")
    assert "not valid JSON" in e.value.message and "num_spec" in e.value.message
    with pytest.raises(LintInputError):
        read_commands("echo hello")


def test_file_with_several_commands_and_continuations():
    text = "# serve\nexport X=1\nllama-server -m t.gguf \\\n  -md d.gguf --spec-type draft-simple\n" + SGL_EAGLE3 + "\n"
    cmds = read_commands(text)
    assert [c.engine for c in cmds] == ["llama.cpp", "sglang"]
