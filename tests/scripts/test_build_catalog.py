"""scripts/build_catalog.py refuses sources that disagree with the manifest (a catalog is never built on a guess)."""

import hashlib
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

HEADER = "model_id\tfile\tkind\trepo\tpath\tcommit\tsize\tsha256\tnote\n"


def _build(sources, manifest, out, *extra):
    return subprocess.run([sys.executable, "scripts/build_catalog.py", "--sources", str(sources), "--manifest",
                           str(manifest), "--out", str(out), *extra], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def one_model(tmp_path, fixtures):
    """A sources folder holding distilgpt2's real config.json, and a manifest row for it."""
    folder = tmp_path / "src" / "distilgpt2"
    folder.mkdir(parents=True)
    shutil.copy(fixtures / "distilgpt2" / "config.json", folder / "config.json")
    sha = hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text(HEADER + f"distilgpt2\tconfig.json\tcopy\towner/repo\tp/config.json\tabc\t762\t{sha}\tn\n")
    return tmp_path / "src", manifest, folder


def test_a_file_whose_bytes_differ_from_the_manifest_stops_the_build(one_model, tmp_path):
    """Guards the byte-exact promise: an edited source file is named, nothing is written."""
    sources, manifest, folder = one_model
    (folder / "config.json").write_text((folder / "config.json").read_text().replace("768", "769"))
    out = tmp_path / "catalog.json"
    proc = _build(sources, manifest, out)
    assert proc.returncode == 1 and "distilbert/distilgpt2" in proc.stderr and "manifest says" in proc.stderr
    assert not out.exists()


def test_a_file_without_an_origin_stops_the_build(one_model, tmp_path):
    sources, manifest, folder = one_model
    (folder / "tokenizer_config.json").write_text("{}")
    proc = _build(sources, manifest, tmp_path / "catalog.json")
    assert proc.returncode == 1 and "tokenizer_config.json has no manifest row" in proc.stderr


def test_an_unknown_kind_is_named(one_model, tmp_path):
    sources, manifest, _ = one_model
    manifest.write_text(manifest.read_text().replace("\tcopy\t", "\tguessed\t"))
    proc = _build(sources, manifest, tmp_path / "catalog.json")
    assert proc.returncode == 1 and "unknown kind 'guessed'" in proc.stderr


def test_a_sound_source_builds_an_entry_with_provenance(one_model, tmp_path):
    """The happy path on a real config: exact count, provenance naming repository, path and commit."""
    sources, manifest, _ = one_model
    out = tmp_path / "catalog.json"
    proc = _build(sources, manifest, out)
    assert proc.returncode == 0, proc.stderr[-1500:]
    import json
    entry = json.loads(out.read_text())["models"]["distilbert/distilgpt2"]
    assert entry["num_parameters"] == 81_912_576
    assert entry["provenance"]["config"] == "config.json: copy of github:owner/repo:p/config.json@abc"
    assert entry["is_instruct"] is False and entry["has_chat_template"] is None     # no tokenizer_config seen
    assert entry["aliases"] == ["distilgpt2"]


def _pin(manifest, kind, digest, repo="owner/repo\tlist.json\t" + "a" * 40):
    manifest.write_text(manifest.read_text() + f"distilgpt2\tvocab.json\t{kind}\t{repo}\t\t{digest}\tnote\n")


@pytest.mark.parametrize("kind, digest, message", [
    ("pin-git-sha1", "ab" * 32, "git-sha1 '" + "ab" * 32 + "' is not 40 hex digits"),
    ("pin", "ab" * 20, "sha256 '" + "ab" * 20 + "' is not 64 hex digits"),
])
def test_a_pin_of_the_wrong_length_for_its_kind_is_named(one_model, tmp_path, kind, digest, message):
    """A sha256 filed as a git blob id (or the reverse) stops the build: the kind says which algorithm it is."""
    sources, manifest, _ = one_model
    _pin(manifest, kind, digest)
    proc = _build(sources, manifest, tmp_path / "catalog.json")
    assert proc.returncode == 1 and message in proc.stderr


def test_a_pin_without_its_source_is_named(one_model, tmp_path):
    sources, manifest, _ = one_model
    _pin(manifest, "pin-git-sha1", "ab" * 20, repo="owner/repo\tlist.json\tHEAD")
    proc = _build(sources, manifest, tmp_path / "catalog.json")
    assert proc.returncode == 1 and "needs its source" in proc.stderr


def test_pins_of_two_algorithms_are_both_kept_with_their_sources(one_model, tmp_path):
    """A file pinned by sha256 and by git blob SHA-1 carries both digests, tagged, each with its provenance."""
    import json

    sources, manifest, _ = one_model
    _pin(manifest, "pin-git-sha1", "ab" * 20)
    _pin(manifest, "pin", "cd" * 32, repo="https://example.org/list\tvocab.json\t-")
    out = tmp_path / "catalog.json"
    proc = _build(sources, manifest, out)
    assert proc.returncode == 0, proc.stderr[-1500:]
    entry = json.loads(out.read_text())["models"]["distilbert/distilgpt2"]
    assert entry["tokenizer_file_hashes"]["vocab.json"] == ["cd" * 32, "git-sha1:" + "ab" * 20]
    prov = entry["provenance"]["tokenizer_file_hashes.vocab.json"]
    assert prov == ("sha256: pinned sha256 in https://example.org/list:vocab.json@-; git-sha1: pinned git blob "
                    "SHA-1 in github:owner/repo:list.json@" + "a" * 12)


def test_text_config_numbers_left_to_the_class_defaults_are_filled_and_labelled(tmp_path):
    """google/gemma-3-27b-it's config.json has no text_config.vocab_size (Gemma3TextConfig's default, 262208, is what
    transformers loads): the entry carries the loaded value, labelled as a default, so the finder can size the pair.
    Before, the entry had no vocab_size and every find on the target stopped with 'config has no vocab_size'."""
    import json

    from draftfinder.models.params import dims_of

    config = {"architectures": ["Gemma3ForConditionalGeneration"], "eos_token_id": [1, 106], "model_type": "gemma3",
              "text_config": {"head_dim": 128, "hidden_size": 5376, "intermediate_size": 21504,
                              "model_type": "gemma3_text", "num_attention_heads": 32, "num_hidden_layers": 62,
                              "num_key_value_heads": 16, "query_pre_attn_scalar": 168, "sliding_window": 1024},
              "torch_dtype": "bfloat16", "vision_config": {"model_type": "siglip_vision_model"}}
    folder = tmp_path / "src" / "google__gemma-3-27b-it"
    folder.mkdir(parents=True)
    data = json.dumps(config, indent=2).encode()
    (folder / "config.json").write_bytes(data)
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text(HEADER + f"google/gemma-3-27b-it\tconfig.json\ttranscribed\thttps://example.org/c\tconfig.json"
                        f"\t-\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\tn\n")
    out = tmp_path / "catalog.json"
    proc = _build(tmp_path / "src", manifest, out)
    assert proc.returncode == 0, proc.stderr[-1500:]
    entry = json.loads(out.read_text())["models"]["google/gemma-3-27b-it"]
    assert entry["config"]["text_config"]["vocab_size"] == 262208
    assert entry["config"]["text_config"]["num_hidden_layers"] == 62          # a value of the file is never replaced
    assert "vocab_size" in entry["provenance"]["config.text_config defaults"]
    assert "Gemma3TextConfig" in entry["provenance"]["config.text_config defaults"]
    assert dims_of(entry["config"]).vocab_size == 262208
