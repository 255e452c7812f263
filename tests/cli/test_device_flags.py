"""`find` and `estimate` with the device, engine, fit and concurrency flags, through ``cli.main.main`` as a user
runs them (issue 10 §2, §4, §5 and the bad-input list)."""

from __future__ import annotations

import json
import shutil

import pytest

from draftfinder.cli.main import main
from draftfinder.errors import EXIT_NOT_FOUND, EXIT_USAGE
from draftfinder.predict import devices as D

from tests.cli.test_main import assert_one_line_error
from tests.conftest import fixture_dir

EST = ["estimate", "--target-params", "7B", "--target-bits", "bf16", "--target-layers", "28",
       "--draft-params", "500M", "--draft-bits", "bf16", "--draft-layers", "24", "--acceptance", "0.7"]
# Llama-3.1-70B bf16 (80 layers, 8 KV heads × 128) with Llama-3.2-1B (16 layers, 8 × 64): the example.
EST70 = ["estimate", "--target-params", "70.6B", "--target-bits", "bf16", "--target-layers", "80",
         "--target-kv-heads", "8", "--target-head-dim", "128", "--draft-params", "1.24B", "--draft-bits", "bf16",
         "--draft-layers", "16", "--draft-kv-heads", "8", "--draft-head-dim", "64", "--acceptance", "0.7"]
FIND = ["Qwen/Qwen2.5-7B", "--offline", "-q"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


# --- bad input: one line, non-zero exit, nothing written -----------------------------------------------------

BAD = [
    (["--hardware", "tpu9"], EXIT_USAGE, "unknown hardware 'tpu9'"),
    (["--hardware", "rtx409"], EXIT_USAGE, "did you mean rtx4090?"),
    (["--hardware", "custom", "--bandwidth", "0", "--tflops", "10"], EXIT_USAGE, "--bandwidth must be a number in (0"),
    (["--hardware", "rtx4090", "--bandwidth", "-100"], EXIT_USAGE, "--bandwidth must be"),
    (["--hardware", "custom", "--bandwidth", "nan", "--tflops", "10"], EXIT_USAGE, "--bandwidth must be"),
    (["--hardware", "custom", "--bandwidth", "900"], EXIT_USAGE, "--hardware custom needs --tflops T"),
    (["--hardware", "custom", "--bandwidth", "900", "--tflops", "0"], EXIT_USAGE, "--tflops must be"),
    (["--hardware", "h100", "--memory", "0"], EXIT_USAGE, "--memory must be"),
    (["--hardware", "cpu", "--threads", "0"], EXIT_USAGE, "--threads must be a whole number from 1"),
    (["--hardware", "h100", "--device-count", "0"], EXIT_USAGE, "--device-count must be"),
    (["--concurrency", "0"], EXIT_USAGE, "--concurrency must be a whole number from 1"),
    (["--concurrency", "2.5"], EXIT_USAGE, "--concurrency must be a whole number"),
    (["--ctx", "0"], EXIT_USAGE, "--ctx must be a whole number from 1"),
    (["--max-k", "0"], EXIT_USAGE, "max"),
    (["--engine", "tensorrt"], EXIT_USAGE, "unknown engine 'tensorrt'"),
    (["--hardware", "local"], EXIT_NOT_FOUND, "no calibration profile 'local'"),
]


@pytest.mark.parametrize("command", ["estimate", "find"])
@pytest.mark.parametrize("flags, code, needle", BAD)
def test_bad_input_is_one_line_and_writes_nothing(capsys, tmp_path, command, flags, code, needle):
    """Each bad value: exit code, one line naming the problem and the fix, no traceback; with --export nothing is
    written, with --format json stdout is the error document alone."""
    export = tmp_path / "out.json"
    argv = (EST if command == "estimate" else FIND + ["--export", str(export)]) + flags
    got, out, err = run(capsys, *argv)
    assert got == code, err
    assert needle in err
    assert_one_line_error(err)
    assert out == "" and not export.exists()
    got, out, err = run(capsys, *argv, "--format", "json")
    assert got == code and json.loads(out)["error"]["exit_code"] == code
    if "calibrate" in err:
        assert "draftfinder calibrate" in json.loads(out)["error"]["hint"]


def test_the_unknown_preset_line_lists_every_valid_one(capsys):
    code, _, err = run(capsys, *EST, "--hardware", "tpu9")
    for name in D.preset_names():
        assert name in err
    assert "custom takes --bandwidth GB/s --tflops T --memory GB" in err


def test_a_corrupt_or_foreign_calibration_is_one_line(capsys):
    """Guards the bad-input list: a profile file that is corrupt or from another machine."""
    from draftfinder.predict.calibration import CalibratedProfile, now_iso, profile_path, save_profile

    save_profile(CalibratedProfile(name="local", machine_id="someone-else", created_at=now_iso(), cpu="x", threads=1))
    code, _, err = run(capsys, *EST, "--hardware", "local")
    assert code == EXIT_USAGE and "measured on another machine" in err and "draftfinder calibrate" in err
    assert_one_line_error(err)
    profile_path("local").write_text("[1, 2", encoding="utf-8")
    code, _, err = run(capsys, *FIND, "--hardware", "local")
    assert code == EXIT_USAGE and "not valid JSON" in err
    assert_one_line_error(err)


def test_bad_device_keys_in_a_config_file_are_one_line(capsys, tmp_path):
    cfg = tmp_path / "c.json"
    for data, needle in (({"device": {"bandwidth_gb_s": 0}}, "device.bandwidth_gb_s"),
                         ({"concurrency": 0}, "'concurrency'"), ({"engine": "trt"}, "'engine'"),
                         ({"hardware": "tpu9"}, "unknown hardware 'tpu9'")):
        cfg.write_text(json.dumps(data), encoding="utf-8")
        code, _, err = run(capsys, *FIND, "--config", str(cfg))
        assert code == EXIT_USAGE and needle in err, err
        assert_one_line_error(err)


# --- the device: detected by default, presets, custom ----------------------------------------------------

@pytest.mark.skipif(D._gpu_driver_present() or D._sysctl("machdep.cpu.brand_string") is not None,
                    reason="a GPU or an Apple chip: detection finds it instead of this CPU")
def test_the_default_hardware_is_this_machine_and_the_output_says_so(capsys):
    """Guards issue 10 §2: "The default hardware is an A100 on any machine". Without --hardware both commands
    predict for this CPU, detected, and print what was detected from what."""
    name = D.cpu_model_name()
    for argv in (EST, FIND):
        d = run_json(capsys, *argv)
        assert d["hardware"] == "cpu" and d["device"]["kind"] == "cpu"
        assert name in d["device"]["detected_from"] and "/proc/cpuinfo" in d["device"]["detected_from"]
        assert d["engine"]["name"] == "llama.cpp" and d["engine"]["chosen_by"].startswith("default for a CPU")
        code, out, _ = run(capsys, *argv)
        assert code == 0 and "detected: /proc/cpuinfo" in out and name in out and "a100" not in out


def test_estimate_device_figures_are_labelled(capsys):
    d = run_json(capsys, *EST, "--hardware", "rtx4090", "--memory", "48")
    dev = d["device"]
    assert (dev["bandwidth_gb_s"], dev["memory_gb"], dev["tflops"]) == (1008, 48, 165.2)
    assert dev["basis"] == {"memory_gb": "given", "bandwidth_gb_s": "published", "tflops": "published"}
    code, out, _ = run(capsys, *EST, "--hardware", "rtx4090", "--memory", "48")
    assert "48 GB (given), 1008 GB/s (published), 165.2 TFLOPS fp16 (published)" in out


def test_custom_hardware_changes_the_prediction(capsys):
    slow = run_json(capsys, *EST, "--hardware", "custom", "--bandwidth", "100", "--tflops", "10", "--memory", "64")
    fast = run_json(capsys, *EST, "--hardware", "custom", "--bandwidth", "3000", "--tflops", "1000", "--memory", "64")
    assert slow["device"]["name"] == "custom" and slow["device"]["basis"]["bandwidth_gb_s"] == "given"
    assert fast["target_tokens_per_s"] > 10 * slow["target_tokens_per_s"]


def test_threads_size_the_cpu_preset(capsys):
    two = run_json(capsys, *EST, "--hardware", "cpu", "--threads", "2")
    sixteen = run_json(capsys, *EST, "--hardware", "cpu", "--threads", "16")
    assert sixteen["device"]["threads"] == 16 and sixteen["device"]["tflops"] == pytest.approx(8 * two["device"]["tflops"])
    assert sixteen["target_tokens_per_s"] > two["target_tokens_per_s"]


# --- will it fit ----------------------------------------------------------------------------------------------

def test_estimate_a_70b_bf16_target_on_an_rtx4090_does_not_fit(capsys):
    """Guards issue 10 §4: "A 70B bf16 target on an RTX 4090 gets '2.90x' although it does not fit". Now the
    verdict replaces the speedup, in JSON and in the table."""
    d = run_json(capsys, *EST70, "--hardware", "rtx4090")
    assert d["speedup"] is None and d["speedup_by_k"] == {} and d["recommended_k"] is None
    assert d["fit"]["fits"] is False
    assert d["fit"]["verdict"] == "does not fit (needs 135.2 GB of 21.6 GB usable on rtx4090)"
    code, out, _ = run(capsys, *EST70, "--hardware", "rtx4090")
    assert code == 0 and "does not fit (needs 135.2 GB of 21.6 GB usable on rtx4090)" in out
    assert "recommended K" not in out and "expected speedup" not in out
    ok = run_json(capsys, *EST70, "--hardware", "h100", "--device-count", "2")
    assert ok["fit"]["fits"] is True and ok["speedup"] > 1


def _qwen72b(tmp_path):
    """A local Qwen2.5-72B-Instruct folder: the published config.json values (80 layers, hidden 8192, 64 heads,
    8 KV heads, intermediate 29568, vocab 152064, bf16) and the Qwen2.5 tokenizer files of the 7B fixture (the
    family shares one tokenizer)."""
    folder = tmp_path / "Qwen2.5-72B-Instruct"
    folder.mkdir()
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        shutil.copy(fixture_dir("Qwen/Qwen2.5-7B-Instruct") / name, folder / name)
        (folder / name).chmod(0o644)
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 8192,
        "intermediate_size": 29568, "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
        "vocab_size": 152064, "max_position_embeddings": 32768, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "rms_norm_eps": 1e-06, "rope_theta": 1000000.0}), encoding="utf-8")
    return folder


def test_find_a_72b_bf16_target_on_an_rtx4090_gives_verdicts_not_speedups(capsys, tmp_path):
    """Guards issue 10 §4 in find: every pair gets "does not fit (needs X GB of Y)" instead of a speedup, in the
    rows and the JSON, with a note that the target alone does not fit and no usage example."""
    folder = _qwen72b(tmp_path)
    d = run_json(capsys, str(folder), "--offline", "-q", "--hardware", "rtx4090")
    assert d["draft_models"] and d["target_fit"]["fits"] is False
    for c in d["draft_models"]:
        assert c["estimated_speedup"] is None and c["recommended_k"] is None and c["fit"]["fits"] is False
        assert c["fit"]["verdict"].startswith("does not fit (needs ") and c["usage"] == {}
    # least memory needed first — within each variant tier (issue 11: the expert's pick first, find/expert.py)
    tiers = [(c["variant"]["tier"], c["fit"]["required_gb"]) for c in d["draft_models"]]
    assert tiers == sorted(tiers)
    assert any("the target alone does not fit" in n for n in d["notes"])
    assert d["summary"]["average_speedup"] is None
    code, out, _ = run(capsys, str(folder), "--offline", "-q", "--hardware", "rtx4090")
    rows = [line for line in out.splitlines() if line.strip().startswith(("1  Qwen/", "2  Qwen/"))]
    assert len(rows) == 2 and all("does not fit (needs" in r and "x " not in r.split("%")[1] for r in rows)
    assert "No usage example: no pair fits on rtx4090" in out


def test_find_ranks_pairs_that_do_not_fit_below_those_that_do(capsys):
    """18 GB × 0.9 = 16.2 GB usable: Qwen2.5-7B bf16 + 0.5B fits (15.4 GB), + 1.5B does not (17.4 GB), though
    ranking by speedup alone would not decide it."""
    d = run_json(capsys, *FIND, "--hardware", "custom", "--bandwidth", "1000", "--tflops", "100", "--memory", "18")
    drafts = d["draft_models"]
    first, second = drafts[0], next(x for x in drafts if x["model_id"] == "Qwen/Qwen2.5-1.5B")
    assert first["model_id"] == "Qwen/Qwen2.5-0.5B" and first["fit"]["fits"] is True and first["estimated_speedup"] > 1
    assert second["fit"]["fits"] is False and second["estimated_speedup"] is None and second["rank"] == 2
    fits = [x["fit"]["fits"] for x in drafts]
    assert fits == sorted(fits, reverse=True)            # every pair that fits above every pair that does not
    assert d["summary"]["pairs_that_do_not_fit"] == fits.count(False) >= 1
    fitting = [x["estimated_speedup"] for x in drafts if x["fit"]["fits"]]
    assert d["summary"]["average_speedup"] == pytest.approx(sum(fitting) / len(fitting), abs=1e-4)


# --- engine ---------------------------------------------------------------------------------------------

def test_engine_flag_and_default(capsys):
    gpu = run_json(capsys, *FIND, "--hardware", "h100")
    assert gpu["engine"]["name"] == "vllm" and gpu["engine"]["chosen_by"].startswith("default for a CUDA GPU")
    assert gpu["draft_models"][0]["engine"] == "vllm" and list(gpu["draft_models"][0]["usage"])[0] == "vllm"
    chosen = run_json(capsys, *FIND, "--hardware", "h100", "--engine", "llama.cpp")
    assert chosen["engine"]["name"] == "llama.cpp" and chosen["engine"]["chosen_by"] == "--engine"
    assert chosen["engine"]["latency_model"].startswith("latency model for llama.cpp on h100")
    assert list(chosen["draft_models"][0]["usage"])[0] == "llama.cpp"
    sglang = run_json(capsys, *FIND, "--hardware", "h100", "--engine", "sglang")
    snippet = sglang["draft_models"][0]["usage"]["sglang"]
    assert "--speculative-algorithm STANDALONE" in snippet and "--speculative-draft-model-path Qwen/Qwen2.5-0.5B" in snippet
    est = run_json(capsys, *EST, "--hardware", "m4-max")
    assert est["engine"]["name"] == "llama.cpp"
    assert run_json(capsys, *EST, "--hardware", "m4-max", "--engine", "transformers")["engine"]["name"] == "transformers"


@pytest.mark.parametrize("command", ["estimate", "find"])
def test_an_engine_that_does_not_run_on_the_device_is_one_line(capsys, command):
    """vLLM serves CUDA/ROCm GPUs: `--engine vllm --hardware m4-max` is a one-line error naming the engines that
    run there (was an internal error from the latency model)."""
    argv = (EST if command == "estimate" else FIND) + ["--hardware", "m4-max", "--engine", "vllm"]
    code, out, err = run(capsys, *argv)
    assert code == EXIT_USAGE and "no vllm on m4-max (apple-gpu)" in err and "--engine llama.cpp" in err
    assert_one_line_error(err)


# --- concurrency ----------------------------------------------------------------------------------------

def test_estimate_concurrency_table_and_headline_at_n(capsys):
    """Guards issue 10 §5: speedup and best K for N = 1, 4, 16, 64 (and the given N), K in vLLM's and
    llama.cpp's form; the headline numbers are for the requested N."""
    d = run_json(capsys, *EST, "--hardware", "h100", "--concurrency", "8")
    table = d["concurrency_table"]
    assert [lv["concurrency"] for lv in table["levels"]] == [1, 4, 8, 16, 64] and table["requested"] == 8
    at8 = next(lv for lv in table["levels"] if lv["concurrency"] == 8)
    at1 = table["levels"][0]
    assert d["concurrency"] == 8 and d["speedup_by_k"] == at8["speedup_by_k"]
    assert d["speedup"] == pytest.approx(max(at8["speedup_by_k"].values()))
    assert at8["speedup_by_k"]["4"] <= at1["speedup_by_k"]["4"]
    for lv in table["levels"]:
        if lv["recommended_k"] is not None:
            assert f'"num_speculative_tokens": {lv["recommended_k"]}' in lv["vllm"]
            assert f'--spec-draft-n-max {lv["recommended_k"]}' in lv["llama_cpp"]
    assert d["provenance"]["speedup"]["method"].startswith("Leviathan et al. 2023 Thm 3.8 at batch N")
    code, out, _ = run(capsys, *EST, "--hardware", "h100", "--concurrency", "8")
    assert "concurrency (speedup per request):" in out and "← requested" in out
    assert "num_speculative_tokens" in out and "--spec-draft-n-max" in out


def test_find_concurrency(capsys):
    d = run_json(capsys, *FIND, "--hardware", "h100", "--concurrency", "16")
    best = d["draft_models"][0]
    table = best["concurrency"]
    assert [lv["concurrency"] for lv in table["levels"]] == [1, 4, 16, 64]
    at16 = next(lv for lv in table["levels"] if lv["concurrency"] == 16)
    assert best["estimated_speedup"] == pytest.approx(max(at16["speedup_by_k"].values()), abs=1e-6)
    assert best["provenance"]["estimated_speedup"]["detail"].startswith("N = 16")
    assert best["fit"]["sequences"] == 16 and d["concurrency"] == 16
    code, out, _ = run(capsys, *FIND, "--hardware", "h100", "--concurrency", "16")
    assert "Concurrency (best draft Qwen/Qwen2.5-0.5B; speedup per request):" in out
    assert "Concurrency: 16 request(s) decoded together" in out


# --- a calibrated machine ------------------------------------------------------------------------------

def test_local_hardware_uses_the_saved_calibration(capsys):
    from draftfinder.predict.calibration import CalibratedProfile, now_iso, save_profile, this_machine

    save_profile(CalibratedProfile(name="local", machine_id=this_machine(), created_at=now_iso(), cpu="here",
                                   threads=1))
    d = run_json(capsys, *EST, "--hardware", "local")
    assert d["device"]["calibration"]["name"] == "local" and d["device"]["threads"] == 1
    code, out, _ = run(capsys, *EST, "--hardware", "local")
    assert code == 0 and "calibration: local" in out
